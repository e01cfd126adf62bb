/**
 * What goes into a download session ({@link ./session.ts}) and what comes
 * out: events, each with the time it happened, and the actions a driver
 * carries out. Connections are named by the session's own ids.
 */
import type { Endpoint } from "../../shared/tracker_info.ts";
import type { LookupResult } from "./tracker_answers.ts";

/** What happened to a download, as the driver tells its session. */
export type SessionEvent =
  /** The download begins (or continues from its verified pieces), from `lookup` if one was just made. */
  | { type: "start"; now: number; lookup?: LookupResult }
  /** A lookup answered: the sources the trackers list as online, and the grant. */
  | { type: "sources"; now: number; lookup: LookupResult }
  /**
   * A lookup failed: refused by the trackers (`refused`, with their message)
   * or not answered at all.
   */
  | { type: "lookupFailed"; now: number; error: string; refused: boolean }
  /** Connection `conn` is open; the peer has `have` ("all" or a base64 bitfield). */
  | { type: "opened"; now: number; conn: number; have: string }
  /** Piece `piece` arrived over `conn`, matched its hash and is written. */
  | { type: "verified"; now: number; conn: number; piece: number; bytes: number }
  /** Piece `piece` arrived over `conn` and did not match its hash. */
  | { type: "bad"; now: number; conn: number; piece: number }
  /**
   * The peer at `conn` refused piece `piece`: it does not have it, or (`choked`) it is
   * serving as many downloaders as it has upload slots (peer/serve/upload_slots.ts).
   */
  | { type: "refused"; now: number; conn: number; piece: number; choked?: boolean }
  /** Piece `piece` could not be written. */
  | { type: "writeFailed"; now: number; conn: number; piece: number; error: string }
  /**
   * Connection `conn` ended: it could not be made, the peer closed it, a
   * request timed out, or it was closed by a `close` action.
   */
  | { type: "closed"; now: number; conn: number; error: string }
  /** The time is `now` (the driver wakes the session at its `wakeAt`). */
  | { type: "tick"; now: number }
  /**
   * Transfers stop for good: the download is paused (or its user logged
   * out), or the peer shuts down (`stop`: nothing that fails because of it
   * fails the download).
   */
  | { type: "halt"; now: number; how: "pause" | "stop" }
  /** The whole-file SHA-1 asked for by `verifyWhole` is `sha1`. */
  | { type: "wholeHashed"; now: number; sha1: string }
  /** Renamed to its final name after `rename`. */
  | { type: "renamed"; now: number }
  /** Verifying or renaming the finished file failed. */
  | { type: "finishFailed"; now: number; error: string };

/** What the driver is to do for a session. */
export type SessionAction =
  /** Open connection `conn` to the peer at `addr`, presenting `grant`. */
  | { type: "connect"; conn: number; addr: Endpoint; grant: unknown }
  /** Ask connection `conn` for piece `piece`. */
  | { type: "request"; conn: number; piece: number }
  /** Close connection `conn`; its `closed` event follows. */
  | { type: "close"; conn: number }
  /** Record piece `piece` as verified (for resume). */
  | { type: "record"; piece: number }
  /** Tell the trackers about these verified pieces. */
  | { type: "report"; pieces: number[] }
  /** Look the file up again; its answer comes back as `sources` or `lookupFailed`. */
  | { type: "lookup" }
  /** The first `pieces` pieces (`bytes` bytes) are verified: the whole-file SHA-1 may follow them. */
  | { type: "hashPrefix"; pieces: number; bytes: number }
  /** Stop the whole-file SHA-1 without a result. */
  | { type: "cancelHash" }
  /**
   * Every piece is verified: once queued writes have landed, finish the
   * whole-file SHA-1 (`wholeHashed` or `finishFailed` follows).
   */
  | { type: "verifyWhole" }
  /** The whole file checked out: give it its final name (`renamed` or `finishFailed` follows). */
  | { type: "rename" }
  /** The download is complete: record it so and announce it. */
  | { type: "complete" }
  /** The download failed for `error`: record it so, remove its partial file, announce it. */
  | { type: "fail"; error: string };
