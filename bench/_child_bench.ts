/**
 * Runs the benchmark scripts as child processes for the report, with one
 * progress line on stderr (elapsed time, which part, its latest progress).
 */
import type { Part } from "./_results.ts";

/** How often the progress line is redrawn. */
const TICK_MS = 1000;
/** stderr lines of a child kept to explain a failure. */
const TAIL_LINES = 20;
/** Longest progress line drawn. */
const LINE_WIDTH = 160;

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
    const text = `\r\x1b[K[bench ${s}s] ${this.status}`.slice(0, LINE_WIDTH);
    Deno.stderr.writeSync(new TextEncoder().encode(text));
  }

  /** Draws the last state and ends the line. */
  close(): void {
    clearInterval(this.#timer);
    this.draw();
    Deno.stderr.writeSync(new TextEncoder().encode("\n"));
  }
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
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", script.pathname, ...options.args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const tail: string[] = [];
  const readErr = (async () => {
    let buf = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      const parts = (buf + chunk).split(/[\r\n]/);
      buf = parts.pop() ?? "";
      // deno-lint-ignore no-control-regex
      const lines = parts.map((l) => l.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").trim())
        .filter(Boolean);
      tail.push(...lines);
      tail.splice(0, Math.max(0, tail.length - TAIL_LINES));
      const last = lines.at(-1);
      if (last) progress.status = `${name}: ${last.replace(/^\[bench +[\d.]+s\] /, "")}`;
    }
  })();
  const out = new Response(child.stdout).text();
  const [{ code }, text] = await Promise.all([child.status, out, readErr]);
  const seconds = (performance.now() - t0) / 1000;
  const line = text.trim().split("\n").reverse().find((l) => l.startsWith("{"));
  if (code !== 0 || !line) {
    // The uncaught error's message says more than the stack frames after it.
    const err = tail.findLastIndex((l) => l.startsWith("error:"));
    const lines = err >= 0 ? tail.slice(err, err + 2) : tail.slice(-3);
    const why = `exited with code ${code}; stderr: ${lines.join(" | ")}`;
    return { data: null, seconds, note: why };
  }
  return { data: JSON.parse(line) as T, seconds };
}
