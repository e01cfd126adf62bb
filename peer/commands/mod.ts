/**
 * peer/commands: the command layer the shell, the JSON API and the web page
 * share. A command takes its arguments as strings, runs against the tracker
 * client and the file service, and returns an {@linkcode Outcome}: the lines
 * the shell prints and the data the API answers with. A failure is a
 * {@linkcode CommandError} whose kind the API turns into a status code.
 *
 * - `command.ts`: what a command is, what it runs with, its outcome and errors
 * - `account_commands.ts`: create_user, login, logout, whoami; resuming a session
 * - `group_commands.ts`: groups, join requests, list_files
 * - `file_commands.ts`: upload_file, stop_share, the download commands, wait
 * - `run_command.ts`: the command table, argument checks, help
 * - `format.ts`: tables and sizes for the shell's lines
 *
 * May import: `shared/`, `peer/shares/`, `peer/store/`, `peer/tracker_client/`,
 * `peer/download/`.
 *
 * @module
 */
export * from "./command.ts";
export * from "./run_command.ts";
export { resumeSession } from "./account_commands.ts";
