/** Logging setup: one configured LogTape logger tree under the category "shoal". */
import {
  configure,
  defaultTextFormatter,
  getLogger,
  type Logger,
  type LogLevel,
  type LogRecord,
} from "@logtape/logtape";

let configured = false;
const encoder = new TextEncoder();

function stderrSink(record: LogRecord): void {
  try {
    Deno.stderr.writeSync(encoder.encode(defaultTextFormatter(record)));
  } catch { /* stderr closed: nothing sensible to do */ }
}

/** Configures logging once for the process; log lines go to stderr. */
export async function setupLogging(level: LogLevel = "info"): Promise<void> {
  if (configured) return;
  configured = true;
  await configure({
    sinks: { stderr: stderrSink },
    loggers: [
      { category: ["shoal"], lowestLevel: level, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}

/** Returns the logger for a category below "shoal", e.g. `log("tracker", "replication")`. */
export function log(...category: string[]): Logger {
  return getLogger(["shoal", ...category]);
}
