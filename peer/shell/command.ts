/** What the shell loop runs with. */
import type { CommandDeps } from "../commands/command.ts";

/** Options for the shell loop (`runShell`). */
export interface ShellOptions extends CommandDeps {
  /** Command lines, e.g. `Deno.stdin.readable`. */
  input: ReadableStream<Uint8Array>;
  /** Writes text without a line break (the prompt, the progress line); defaults to `output`. */
  prompt?: (text: string) => void;
  /** Whether the input is a terminal: only then is the prompt shown. */
  interactive: boolean;
  /** Whether the output is a terminal: only then does `wait` show a live progress line. */
  terminal?: boolean;
  /** The terminal's width for the progress line; default 80. */
  columns?: () => number;
}
