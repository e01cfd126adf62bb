/**
 * What a command is and what it runs with: the types the command tables
 * (account, group and file commands), the shell and the web API share.
 */
import type { SessionStore } from "../store/session_store.ts";
import type { TrackerClient } from "../tracker_client/tracker_client.ts";
import type { FileService } from "../shares/file_service.ts";
import type { PeerIdentity } from "../tracker_client/identity.ts";
import type { DownloadInfo } from "../download/download_view.ts";

/** What the commands run with: one per peer, shared by its shell and its web API. */
export interface CommandDeps {
  /** The tracker client (any object with its `token` and `request`). */
  client: Pick<TrackerClient, "token" | "request">;
  /** This peer's own `ip:port`, sent at login. */
  addr: string;
  /** This peer's key (sent at login) and the certificate the trackers issue for it. */
  identity: Pick<PeerIdentity, "pubkey" | "take" | "renew" | "drop">;
  /** Where the login session is kept across restarts. */
  store: Pick<SessionStore, "load" | "save" | "clear">;
  /** Sharing and downloading; without it the file commands are refused. */
  files?: FileService;
  /** Shows a line to the user (a resumed session, a failed renewal). */
  output: (line: string) => void;
}

/** The session the commands share: who is logged in on this peer. */
export type Ctx = CommandDeps & { user: string | null };

/** What one run of a command is given besides its arguments. */
export interface RunOptions {
  /** Called about every second by `wait` with the downloads (the shell's progress line). */
  progress?: (downloads: DownloadInfo[]) => void;
}

/** JSON data of an outcome. */
export type Data = Record<string, unknown>;

/** What a command did: the lines the shell prints and the data the API answers with. */
export interface Outcome {
  lines: string[];
  data: Data;
}

/**
 * Why a command failed, for the API's status code: bad arguments, no
 * session, no such command, refused (by the trackers or this peer), or no
 * tracker reachable.
 */
export type FailureKind = "usage" | "login" | "unknown" | "refused" | "unavailable";

/** A failure to show the user as one `error: ` line (and as a JSON error). */
export class CommandError extends Error {
  readonly kind: FailureKind;
  constructor(message: string, kind: FailureKind = "refused") {
    super(message);
    this.name = "CommandError";
    this.kind = kind;
  }
}

/** A command. */
export interface Command {
  /** Argument names for the usage line; `<user_id>`/`<group_id>` are validated. */
  params: string[];
  /** Whether the command needs a session. */
  login: boolean;
  /** How many trailing params may be left out. */
  optional?: number;
  /** Skip the id check of `<group_id>` params (the command checks its own). */
  noCheck?: boolean;
  /** One line for help and docs/API.md. */
  about: string;
  run(ctx: Ctx, args: string[], options: RunOptions): Promise<Outcome>;
}

/** An outcome of one line. */
export function said(line: string, data: Data = {}): Outcome {
  return { lines: [line], data: { message: line, ...data } };
}
