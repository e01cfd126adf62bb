/**
 * The peer's interactive shell: reads one command per line, runs it on the
 * command layer (peer/commands/, which the web API shares) and prints its
 * lines, or exactly one line that begins with `error: `. No input line can
 * make it crash.
 */
import { describeError } from "../../shared/errors.ts";
import { type Ctx, resumeSession, runCommand } from "../commands/mod.ts";
import type { DownloadInfo } from "../download/download_view.ts";
import type { ShellOptions } from "./command.ts";
import { progressLine, redraw } from "./progress_line.ts";

export type { ShellOptions };

/** The prompt shown before each line when the input is a terminal. */
export const PROMPT = "shoal> ";

/**
 * Runs the shell until the input ends or the user types quit or exit. With
 * `ctx`, it shares that session (the web API's); otherwise it makes its own.
 */
export async function runShell(options: ShellOptions, shared?: Ctx): Promise<void> {
  const ctx: Ctx = shared ?? { ...options, user: null };
  const write = options.prompt ?? options.output;
  if (!shared) await resumeSession(ctx);
  const lines = readLines(options.input);
  try {
    for (;;) {
      if (options.interactive) write(PROMPT);
      const next = await lines.next();
      if (next.done) {
        if (options.interactive) options.output("");
        return;
      }
      const words = splitWords(next.value);
      const name = words[0] ?? "";
      if (name === "" || name.startsWith("#")) continue;
      if (name === "quit" || name === "exit") return;
      for (const line of await execute(ctx, options, words)) options.output(line);
    }
  } finally {
    await lines.return(undefined);
  }
}

/** Runs one command line; every failure becomes a single `error: ` line. */
async function execute(ctx: Ctx, options: ShellOptions, words: string[]): Promise<string[]> {
  const write = options.prompt ?? options.output;
  // On a terminal, wait redraws one progress line in place; elsewhere it prints nothing until done.
  let drawn = false;
  const progress = options.terminal
    ? (downloads: DownloadInfo[]) => {
      const line = progressLine(downloads, options.columns?.() ?? 80);
      if (line === "" && !drawn) return;
      write(redraw(line));
      drawn = true;
    }
    : undefined;
  try {
    return (await runCommand(ctx, words[0]!, words.slice(1), { progress })).lines;
  } catch (err) {
    return [`error: ${describeError(err)}`];
  } finally {
    if (drawn) write(redraw(""));
  }
}

/** Splits a command line into words; double quotes keep spaces inside a word. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.trim().matchAll(/"([^"]*)"|(\S+)/g)) words.push(m[1] ?? m[2]!);
  return words;
}

async function* readLines(input: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buf = "";
  for await (const chunk of input) {
    buf += decoder.decode(chunk, { stream: true });
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
      yield buf.slice(0, nl).replace(/\r$/, "");
      buf = buf.slice(nl + 1);
    }
  }
  buf += decoder.decode();
  if (buf !== "") yield buf;
}
