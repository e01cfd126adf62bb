/**
 * The driver of one download: it runs a {@linkcode DownloadSession} against
 * the real world. It carries the session's actions out on the transfer
 * workers, peer.db, the served files, the trackers and the whole-file
 * hasher, turns what they answer into events, and holds the one timer that
 * wakes the session at its `wakeAt`. All the decisions are the session's.
 */
import { describeError } from "../../shared/errors.ts";
import { CHOKED } from "../../shared/protocol/transfer.ts";
import { log } from "../../shared/log.ts";
import type { DownloadRecord, PeerDb } from "../store/peer_db.ts";
import { type ServedFiles, sharedBitfield } from "../serve/served_files.ts";
import type { PrefixHash } from "../verify/prefix_hash.ts";
import { finalPathOf, partPathOf } from "./download_records.ts";
import { DownloadSession, type SessionStatus } from "./session.ts";
import type { SessionAction, SessionEvent } from "./session_events.ts";
import { LookupRefused, type LookupResult } from "./tracker_answers.ts";
import type { WorkerEvent } from "./transfer_protocol.ts";
import type { TransferPool } from "./worker_pool.ts";
import type { DownloadCounters } from "./download_counters.ts";

const logger = log("peer", "download");

/** What a download needs from the rest of the peer. */
export interface DownloadDeps {
  /** Looks the file up at the trackers; a refusal throws {@linkcode LookupRefused}. */
  lookup: (group: string, name: string) => Promise<LookupResult>;
  /** Tells the trackers about verified pieces. */
  report: (group: string, name: string, pieces: number[]) => Promise<void>;
  db: Pick<PeerDb, "addPiece" | "updateHave" | "setStatus">;
  served: Pick<ServedFiles, "get" | "set" | "delete">;
  pool: TransferPool;
  /** Starts a whole-file SHA-1 that follows the verified prefix of `path`. */
  wholeHasher: (path: string) => PrefixHash;
  /** Called when the download ends (complete or failed). */
  finished: (d: DownloadDriver) => Promise<void>;
  /** Counts verified and rejected pieces, if given. */
  counters?: DownloadCounters;
  /** Breaks ties between equally rare pieces; default Math.random. */
  random?: () => number;
}

/** A download in progress (or ended), driven in this process. */
export class DownloadDriver {
  readonly rec: DownloadRecord;
  /** Resolves when the download has ended, or been paused or stopped. */
  readonly done: Promise<void>;
  /** When the download started, performance.now(). */
  readonly startedAt = performance.now();
  #deps: DownloadDeps;
  #session: DownloadSession;
  #hasher: PrefixHash | null = null;
  /** The pool's connection id of each of the session's connections. */
  #conns = new Map<number, number>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  /** Events that arrived while the session's actions were being carried out. */
  #queue: SessionEvent[] = [];
  #busy = false;
  #resolveDone!: () => void;

  constructor(rec: DownloadRecord, deps: DownloadDeps) {
    rec.have = sharedBitfield(rec.have);
    this.rec = rec;
    this.#deps = deps;
    this.#session = new DownloadSession({
      name: rec.name,
      size: rec.size,
      pieceSize: rec.pieceSize,
      sha1: rec.sha1,
      have: rec.have,
      partPath: this.partPath,
    }, { random: deps.random });
    this.done = new Promise((r) => this.#resolveDone = r);
  }

  /** Pieces in the file. */
  get n(): number {
    return this.#session.n;
  }

  /** Verified pieces. */
  get haveCount(): number {
    return this.#session.haveCount;
  }

  /** Downloading, verifying, complete or failed. */
  get status(): SessionStatus {
    return this.#session.status;
  }

  /** Why the download failed. */
  get error(): string | null {
    return this.#session.error;
  }

  /** Why the download cannot finish now, or null (see {@linkcode DownloadSession.stalled}). */
  get stalled(): string | null {
    return this.#session.stalled;
  }

  /** Connected peers. */
  get peerCount(): number {
    return this.#session.peerCount;
  }

  /** Bytes per second over the last two seconds. */
  get rate(): number {
    return this.#session.rateAt(performance.now());
  }

  /** Where the pieces are written until the file is complete. */
  get partPath(): string {
    return partPathOf(this.rec);
  }

  /** The final path. */
  get finalPath(): string {
    return finalPathOf(this.rec);
  }

  /** Starts (or resumes) fetching, from `lookup` if the caller has just made one. */
  start(lookup?: LookupResult): void {
    this.#deps.served.set({ meta: this.rec, path: this.partPath, have: this.rec.have });
    this.#hasher = this.#deps.wholeHasher(this.partPath);
    this.#feed({ type: "start", now: performance.now(), lookup });
  }

  /**
   * The peer is shutting down: transfers stop, and whatever fails because of
   * it (the whole-file hash, when its worker is stopped) does not count as
   * the download failing, so it resumes at the next start.
   */
  stop(): void {
    this.#feed({ type: "halt", now: performance.now(), how: "stop" });
    this.#resolveDone();
  }

  /** Stops all transfers for good (pause, logout or shutdown); a new driver resumes it. */
  pause(): void {
    this.#feed({ type: "halt", now: performance.now(), how: "pause" });
    // This object is done with; whoever waits on it looks again (a new driver resumes it).
    this.#resolveDone();
  }

  /** Hands one event to the session and carries out what it answers. */
  #feed(e: SessionEvent): void {
    if (this.#busy) {
      this.#queue.push(e);
      return;
    }
    this.#busy = true;
    try {
      for (const a of this.#session.handle(e)) this.#act(a);
      while (this.#queue.length > 0) {
        for (const a of this.#session.handle(this.#queue.shift()!)) this.#act(a);
      }
    } finally {
      this.#busy = false;
    }
    this.#schedule();
  }

  /** One timer, set for the session's `wakeAt`. */
  #schedule(): void {
    const at = this.#session.wakeAt;
    if (at === this.#timerAt) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = at === Infinity
      ? undefined
      : setTimeout(this.#wake, Math.max(0, at - performance.now()));
  }

  #wake = (): void => {
    this.#timer = undefined;
    this.#timerAt = NaN;
    this.#feed({ type: "tick", now: performance.now() });
  };

  #act(a: SessionAction): void {
    const { pool } = this.#deps;
    switch (a.type) {
      case "connect": {
        const conn = a.conn;
        this.#conns.set(
          conn,
          pool.open({
            addr: a.addr,
            group: this.rec.group,
            name: this.rec.name,
            sha1: this.rec.sha1,
            grant: a.grant,
            path: this.partPath,
            size: this.rec.size,
            pieceSize: this.rec.pieceSize,
            hashes: this.rec.pieces,
          }, (e) => this.#onWorker(conn, e)),
        );
        return;
      }
      case "request": {
        const conn = this.#conns.get(a.conn);
        if (conn !== undefined) pool.get(conn, a.piece);
        return;
      }
      case "close": {
        const conn = this.#conns.get(a.conn);
        if (conn !== undefined) pool.close(conn);
        return;
      }
      case "record":
        this.#deps.db.addPiece(this.rec, a.piece);
        return;
      case "report":
        this.#deps.report(this.rec.group, this.rec.name, a.pieces).catch((err) => {
          logger.warn("Cannot report pieces: {error}", { error: describeError(err) });
        });
        return;
      case "lookup":
        this.#lookup();
        return;
      case "hashPrefix":
        this.#hasher?.advance(a.bytes);
        return;
      case "cancelHash":
        this.#hasher?.cancel();
        this.#hasher = null;
        return;
      case "verifyWhole":
        this.#verifyWhole();
        return;
      case "rename":
        this.#rename();
        return;
      case "complete":
        this.#complete().catch((err) => {
          logger.error("Cannot record {name} as complete: {error}", {
            name: this.rec.name,
            error: describeError(err),
          });
        });
        return;
      case "fail":
        this.#failed(a.error);
        return;
    }
  }

  #onWorker(conn: number, e: WorkerEvent): void {
    const now = performance.now();
    switch (e.type) {
      case "opened":
        return this.#feed({ type: "opened", now, conn, have: e.have });
      case "done":
        if (this.#deps.counters) {
          this.#deps.counters.bytesReceived += e.bytes;
          this.#deps.counters.piecesVerified++;
        }
        return this.#feed({ type: "verified", now, conn, piece: e.piece, bytes: e.bytes });
      case "bad":
        if (this.#deps.counters) this.#deps.counters.piecesRejected++;
        return this.#feed({ type: "bad", now, conn, piece: e.piece });
      case "rejected":
        return this.#feed({
          type: "refused",
          now,
          conn,
          piece: e.piece,
          choked: e.error === CHOKED,
        });
      case "writeFailed":
        return this.#feed({ type: "writeFailed", now, conn, piece: e.piece, error: e.error });
      case "failed":
        this.#conns.delete(conn);
        return this.#feed({ type: "closed", now, conn, error: e.error });
    }
  }

  async #lookup(): Promise<void> {
    let e: SessionEvent;
    try {
      const lookup = await this.#deps.lookup(this.rec.group, this.rec.name);
      e = { type: "sources", now: performance.now(), lookup };
    } catch (err) {
      const refused = err instanceof LookupRefused;
      const error = refused ? err.message : describeError(err);
      e = { type: "lookupFailed", now: performance.now(), error, refused };
    }
    this.#feed(e);
  }

  async #verifyWhole(): Promise<void> {
    let e: SessionEvent;
    try {
      // End-game duplicates may still be queued for writing: let them land
      // before the file is hashed, renamed and its modification time recorded.
      await this.#deps.pool.drain(this.partPath);
      if (!this.#hasher) throw new Error("the whole-file hash was cancelled");
      const sha1 = await this.#hasher.finish(this.rec.size);
      this.#hasher = null;
      e = { type: "wholeHashed", now: performance.now(), sha1 };
    } catch (err) {
      e = { type: "finishFailed", now: performance.now(), error: describeError(err) };
    }
    this.#feed(e);
  }

  async #rename(): Promise<void> {
    let e: SessionEvent;
    try {
      await Deno.rename(this.partPath, this.finalPath);
      e = { type: "renamed", now: performance.now() };
    } catch (err) {
      e = { type: "finishFailed", now: performance.now(), error: describeError(err) };
    }
    this.#feed(e);
  }

  async #complete(): Promise<void> {
    this.rec.status = "C";
    this.#deps.db.updateHave(this.rec, this.rec.have);
    this.#deps.db.setStatus(this.rec, "C", null);
    await this.#deps.finished(this).catch(() => {});
    this.#resolveDone();
  }

  #failed(error: string): void {
    this.rec.status = "F";
    this.#deps.db.setStatus(this.rec, "F", error);
    // Only its own entry: the same group and name may be served from another file.
    if (this.#deps.served.get(this.rec.group, this.rec.name)?.path === this.partPath) {
      this.#deps.served.delete(this.rec.group, this.rec.name);
    }
    // A failed download is not resumed: its partial file would only take up space.
    Deno.remove(this.partPath).catch(() => {})
      .then(() => this.#deps.finished(this))
      .catch(() => {})
      .finally(() => this.#resolveDone());
  }
}
