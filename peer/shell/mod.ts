/**
 * peer/shell: the interactive shell. It reads one command per line, runs it
 * on the command layer (peer/commands/, shared with the web API), and prints
 * short lines or exactly one line that begins with `error: `.
 *
 * - `shell.ts`: the loop
 * - `progress_line.ts`: the live progress line of `wait` on a terminal
 * - `command.ts`: what the loop runs with
 *
 * May import: `shared/`, `peer/commands/`, `peer/download/`.
 *
 * @module
 */
