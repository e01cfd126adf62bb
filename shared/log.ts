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

/** A peer logs warnings only (its shell's output stays clean), unless SHOAL_LOG says otherwise. */
export const PEER_LOG_LEVEL: LogLevel = "warning";

/** Log levels that the `SHOAL_LOG` environment variable may select. */
const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warning", "error"];

/** The level `SHOAL_LOG` selects, or `fallback` when it is unset or not a level. */
export function envLogLevel(fallback: LogLevel): LogLevel {
  const wanted = Deno.env.get("SHOAL_LOG")?.trim().toLowerCase();
  return LOG_LEVELS.find((level) => level === wanted) ?? fallback;
}

/** Configures logging once for this thread (each worker too); log lines go to stderr. */
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
