/**
 * peer/shell: the interactive shell, the peer's user interface. It reads one
 * command per line, runs it against the tracker client or the file service,
 * and prints short lines or exactly one line that begins with `error: `.
 *
 * - `shell.ts`: the loop, the account and group commands, resuming a session
 * - `file_commands.ts`: upload_file, stop_share, the download commands, wait
 * - `command.ts`: what a command is and what it runs with
 *
 * May import: `shared/`, `peer/shares/`, `peer/store/`, `peer/tracker_client/`.
 *
 * @module
 */
