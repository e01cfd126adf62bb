/** Messages between the main thread and the piece-server workers. */
import type { RevocationNews } from "../../shared/grant.ts";
import type { ServedFile } from "./served_files.ts";
import type { ServerIdentity } from "./piece_listener.ts";

/** Main thread → server worker. */
export type ServerCommand =
  /**
   * Listen with mutual TLS, trusting client certificates of the CA `ca`
   * (PEM). With `verifyPort` (the first worker only): host file verification
   * on it too.
   */
  | {
    type: "listen";
    hostname: string;
    port: number;
    reusePort: boolean;
    ca: string;
    /** Downloaders this worker serves at once (its share of UPLOAD_SLOTS). */
    uploadSlots: number;
    verifyPort?: MessagePort;
  }
  /** The certificate and key to show downloaders from now on; null: refuse every handshake. */
  | { type: "identity"; identity: ServerIdentity | null }
  | { type: "set"; file: ServedFile }
  | { type: "delete"; group: string; name: string }
  | { type: "key"; spki: string | null }
  | { type: "revoke"; news: RevocationNews }
  | { type: "close" };

/** Server worker → main thread. */
export type ServerEvent =
  | { type: "listening" }
  | { type: "error"; error: string }
  | { type: "changed"; group: string; name: string }
  /** The worker's counters, sent about every second while they change. */
  | { type: "stats"; bytesSent: number; piecesSent: number; connections: number }
  | { type: "closed" };
