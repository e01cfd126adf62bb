/** Messages between the download manager (main thread) and transfer workers. */
import type { TlsDialOptions } from "../../shared/conn.ts";

/** Main thread → worker. */
export type WorkerCommand =
  | {
    type: "open";
    conn: number;
    addr: { hostname: string; port: number };
    group: string;
    name: string;
    sha1: string;
    grant: unknown;
    /** The `.part` file the pieces are written into. */
    path: string;
    size: number;
    pieceSize: number;
    /** Hex SHA-1 of every piece, concatenated. */
    hashes: string;
  }
  /**
   * What connections opened from now on dial with: the CA and this peer's
   * identity (its certificate and key), or null while it has none.
   */
  | { type: "identity"; tls: TlsDialOptions | null }
  | { type: "get"; conn: number; piece: number }
  | { type: "close"; conn: number }
  /** Answer `drained` once every write queued for `path` is done. */
  | { type: "drain"; path: string; id: number };

/** Worker → main thread. */
export type WorkerEvent =
  | { type: "opened"; conn: number; have: string }
  | { type: "done"; conn: number; piece: number; bytes: number }
  | { type: "bad"; conn: number; piece: number }
  | { type: "rejected"; conn: number; piece: number; error: string }
  | { type: "writeFailed"; conn: number; piece: number; error: string }
  | { type: "failed"; conn: number; error: string }
  | { type: "drained"; id: number };
