/**
 * What a shell command is and what it runs with: the types the command
 * tables (account, group and file commands) and the shell loop share.
 */
import type { SessionStore } from "../store/session_store.ts";
import type { TrackerClient } from "../tracker_client/tracker_client.ts";
import type { FileService } from "../shares/file_service.ts";
import type { PeerIdentity } from "../tracker_client/identity.ts";

/** Options for the shell loop (`runShell`). */
export interface ShellOptions {
  /** Command lines, e.g. `Deno.stdin.readable`. */
  input: ReadableStream<Uint8Array>;
  /** Prints one line of output to the user. */
  output: (line: string) => void;
  /** Writes the prompt without a line break; defaults to `output`. */
  prompt?: (text: string) => void;
  /** The tracker client (any object with its `token` and `request`). */
  client: Pick<TrackerClient, "token" | "request">;
  /** This peer's own `ip:port`, sent at login. */
  addr: string;
  /** This peer's key (sent at login) and the certificate the trackers issue for it. */
  identity: Pick<PeerIdentity, "pubkey" | "take" | "renew" | "drop">;
  /** Where the login session is kept across restarts. */
  store: Pick<SessionStore, "load" | "save" | "clear">;
  /** Whether the input is a terminal: only then is the prompt shown. */
  interactive: boolean;
  /** Sharing and downloading; without it the file commands are refused. */
  files?: FileService;
}

/** A failure to show the user as one `error: ` line. */
export class ShellError extends Error {}

/** What a command runs with. */
export type Ctx = ShellOptions & { user: string | null };

/** A shell command. */
export interface Command {
  /** Argument names for the usage line; `<user_id>`/`<group_id>` are validated. */
  params: string[];
  /** Whether the command needs a session. */
  login: boolean;
  /** How many trailing params may be left out. */
  optional?: number;
  /** Skip the id check of `<group_id>` params (the command checks its own). */
  noCheck?: boolean;
  run(ctx: Ctx, args: string[]): Promise<string[]>;
}
