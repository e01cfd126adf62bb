/**
 * Runs the benchmark scripts as child processes for the report, with one
 * progress line on stderr (elapsed time, which part, its latest progress).
 */
import { ShoalProcess } from "../tests/harness/process.ts";
import type { Part } from "./_results.ts";

/** How often the progress line is redrawn. */
const TICK_MS = 1000;
/** stderr lines of a child kept to explain a failure. */
const TAIL_LINES = 20;
/** Longest progress line drawn. */
const LINE_WIDTH = 160;

const encoder = new TextEncoder();

/** The one updating progress line of a report run. */
export class ProgressLine {
  status = "starting";
  readonly #started = performance.now();
  readonly #timer = setInterval(() => this.draw(), TICK_MS);

  /** Seconds since the run started. */
  get elapsed(): number {
    return (performance.now() - this.#started) / 1000;
  }

  /** Redraws the line. */
  draw(): void {
    const s = this.elapsed.toFixed(0).padStart(4);
    Deno.stderr.writeSync(
      encoder.encode(`\r\x1b[K[bench ${s}s] ${this.status}`.slice(0, LINE_WIDTH)),
    );
  }

  /** Draws the last state and ends the line. */
  close(): void {
    clearInterval(this.#timer);
    this.draw();
    Deno.stderr.writeSync(encoder.encode("\n"));
  }
}

/** A child's stderr as lines, split at `\r` too (progress lines), without colour codes. */
function stderrLines(text: string): string[] {
  // deno-lint-ignore no-control-regex
  return text.split(/[\r\n]/).map((l) => l.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").trim())
    .filter(Boolean);
}

/** Runs `script` with `args` and returns its last stdout line that parses as JSON. */
export async function runPart<T>(
  name: string,
  script: URL,
  options: { args: string[]; progress: ProgressLine },
): Promise<Part<T>> {
  const t0 = performance.now();
  const progress = options.progress;
  progress.status = name;
  const child = new ShoalProcess(options.args, { name, script: script.pathname });
  while (child.alive) {
    await (child.stderr.ended ? child.exited : Promise.race([child.stderr.next(), child.exited]));
    const last = stderrLines(child.stderr.text.slice(-LINE_WIDTH * 2)).at(-1);
    if (last) progress.status = `${name}: ${last.replace(/^\[bench +[\d.]+s\] /, "")}`;
  }
  const { code } = await child.finish();
  const seconds = (performance.now() - t0) / 1000;
  const line = child.stdout.lines().findLast((l) => l.startsWith("{"));
  if (code !== 0 || !line) {
    // The uncaught error's message says more than the stack frames after it.
    const tail = stderrLines(child.stderr.text).slice(-TAIL_LINES);
    const err = tail.findLastIndex((l) => l.startsWith("error:"));
    const lines = err >= 0 ? tail.slice(err, err + 2) : tail.slice(-3);
    return { data: null, seconds, note: `exited with code ${code}; stderr: ${lines.join(" | ")}` };
  }
  return { data: JSON.parse(line) as T, seconds };
}
