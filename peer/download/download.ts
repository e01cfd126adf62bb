/**
 * One download: plans which piece to ask which peer for, while transfer
 * workers fetch, verify and write. Verified pieces are recorded for resume,
 * served at once and reported to the tracker in batches.
 */
import { decodeBase64 } from "../../shared/base64.ts";
import { countBits, hasBit, setBit, unionBits } from "../../shared/bitfield.ts";
import { PIECE_SIZE } from "../../shared/constants.ts";
import { describeError } from "../../shared/errors.ts";
import { log } from "../../shared/log.ts";
import { parseEndpoint } from "../../shared/tracker_info.ts";
import type { DownloadRecord, PeerDb } from "../store/peer_db.ts";
import { availabilityOf, minOf, pickPiece } from "./piece_picker.ts";
import { type ServedFiles, sharedBitfield } from "../serve/served_files.ts";
import type { WorkerEvent } from "./transfer_protocol.ts";
import type { WorkerPool } from "./worker_pool.ts";
import type { PrefixHash } from "../verify/prefix_hash.ts";

const logger = log("peer", "download");

/** Pieces requested and not yet received (or not yet written), per connection at most. */
export const PIPELINE_DEPTH = 8;
/**
 * Pieces a download has in flight over all its connections, at most (but at
 * least {@linkcode MIN_DEPTH} per connection): with many seeders, 8 each
 * overflowed the transfer workers' piece buffers into fresh memory. Two
 * connections to a lone seeder get the full {@linkcode PIPELINE_DEPTH}.
 */
export const IN_FLIGHT_BUDGET = 16;
/** Requests outstanding per connection, at least. */
export const MIN_DEPTH = 2;
/** Verified pieces are reported to the tracker at least this often. */
export const REPORT_INTERVAL_MS = 500;
/** The peer list and grant are refreshed from the tracker this often. */
export const REFRESH_INTERVAL_MS = 2000;
/**
 * While some peer has only part of the file, its pieces are looked up this
 * often instead, so that downloaders of one file start serving each other
 * soon after they verify pieces (the tracker hears of them within
 * {@linkcode REPORT_INTERVAL_MS}).
 */
export const PARTIAL_REFRESH_MS = 1000;
/** A peer that sends this many bad pieces is dropped for the download. */
export const MAX_STRIKES = 2;
/** Ties between equally rare pieces are broken among this many nearest the front. */
export const PICK_WINDOW = 32;
/**
 * A download opens at least this many connections, spread over its peers
 * (one per peer when there are more). Two to a lone seeder keep it busy on a
 * LAN (each has PIPELINE_DEPTH pieces, 4 MiB, in flight); four measured no
 * faster on loopback. Two connections share a transfer worker (worker_pool.ts).
 */
export const MIN_CONNECTIONS = 2;
/**
 * A source that delivers no 512 KiB piece for this long while requests to it
 * are outstanding (longer for larger pieces, in proportion) is dropped (its
 * connection closed, its pieces asked elsewhere) and retried with backoff: a
 * peer whose host vanished sends no FIN.
 */
export const SOURCE_STALL_MS = 5000;
/** The same for a source the trackers no longer list as online. */
export const OFFLINE_STALL_MS = 1000;
/**
 * Tracker refusals of a lookup that end the download: the file left the
 * group, or the user is no longer a member. Anything else (no tracker, not
 * logged in yet) is retried at the next refresh.
 */
const FINAL_REFUSAL = /^(no file |no group |not a member of group )/;
/**
 * A final refusal ends the download only when this many lookups in a row
 * (a refresh apart) say so: during a partition merge the trackers may refuse
 * for a moment what the merge then restores.
 */
const FINAL_REFUSALS = 2;

/** The trackers refused a download's lookup; the message is theirs. */
export class LookupRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LookupRefused";
  }
}

/** What a download needs from the rest of the peer. */
export interface DownloadDeps {
  lookup: (group: string, name: string) => Promise<LookupResult>;
  report: (group: string, name: string, pieces: number[]) => Promise<void>;
  db: PeerDb;
  served: ServedFiles;
  pool: WorkerPool;
  /** Starts a whole-file SHA-1 that follows the verified prefix of `path`. */
  wholeHasher: (path: string) => PrefixHash;
  /** Called when the download ends (complete or failed). */
  finished: (d: Download) => Promise<void>;
}

/** The tracker's answer to a download lookup. */
export interface LookupResult {
  peers: { user: string; addr: string; have: string }[];
  grant: unknown;
}

interface Slot {
  key: string;
  addr: string;
  has: Uint8Array | null;
  conn: number | null;
  opened: boolean;
  requested: Set<number>;
  refused: Set<number>;
  failures: number;
  retryAt: number;
  dropped: boolean;
  /** Listed as online by the last lookup. */
  listed: boolean;
  /** When this connection last delivered a piece (or was opened), performance.now(). */
  lastDataAt: number;
}

/** A download in progress (or ended). */
export class Download {
  readonly rec: DownloadRecord;
  readonly n: number;
  haveCount: number;
  status: "D" | "V" | "C" | "F" = "D";
  error: string | null = null;
  readonly done: Promise<void>;
  #deps: DownloadDeps;
  #slots = new Map<string, Slot>();
  /** Bad pieces received from each peer address. */
  #strikes = new Map<string, number>();
  /** Peer addresses dropped for this download. */
  #banned = new Set<string>();
  #inFlight = new Map<number, number>();
  #availability: Uint32Array;
  #minAvailability = 0;
  #grant: unknown = null;
  #pendingReport: number[] = [];
  #timers: ReturnType<typeof setInterval>[] = [];
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #resolveDone!: () => void;
  #samples: { t: number; bytes: number }[] = [];
  #bytes = 0;
  readonly startedAt = performance.now();
  #hasher: PrefixHash | null = null;
  /** Pieces 0 .. prefix-1 are all verified. */
  #prefix = 0;
  #duplicates = 0;
  #refreshedAt = 0;
  #stopping = false;
  /** True once a lookup has answered (before it, nothing is known to be missing). */
  #looked = false;
  /** Final refusals of the lookups in a row. */
  #refusals = 0;
  /**
   * Set by pause() and stop(): this object plans nothing more (the failed
   * events of the connections it closed, a lookup still in flight and
   * pieces still arriving are ignored); a paused download continues as a
   * new Download from its recorded pieces.
   */
  #halted = false;

  constructor(rec: DownloadRecord, deps: DownloadDeps) {
    rec.have = sharedBitfield(rec.have);
    this.rec = rec;
    this.n = Math.ceil(rec.size / rec.pieceSize);
    this.haveCount = countBits(rec.have, this.n);
    this.#deps = deps;
    this.#availability = new Uint32Array(this.n);
    this.done = new Promise((r) => this.#resolveDone = r);
  }

  /** Where the pieces are written until the file is complete. */
  get partPath(): string {
    return `${this.rec.dest}/${this.rec.name}.part`;
  }

  /** The final path. */
  get finalPath(): string {
    return `${this.rec.dest}/${this.rec.name}`;
  }

  /** Connected peers. */
  get peerCount(): number {
    let c = 0;
    for (const s of this.#slots.values()) if (s.opened) c++;
    return c;
  }

  /**
   * Why the download cannot finish now, or null: some pieces are on no peer
   * that is online (listed by the trackers or connected). It goes on by
   * itself when a source comes back.
   */
  get stalled(): string | null {
    if (this.status !== "D" || !this.#looked) return null;
    let missing = 0;
    for (let p = 0; p < this.n; p++) {
      if (!hasBit(this.rec.have, p) && this.#availability[p] === 0) missing++;
    }
    if (missing === 0) return null;
    return `no online peer has ${missing} of ${this.n} pieces`;
  }

  /** Bytes per second over the last two seconds. */
  get rate(): number {
    const now = performance.now();
    while (this.#samples.length > 1 && now - this.#samples[0]!.t > 2000) this.#samples.shift();
    const first = this.#samples[0];
    if (!first || now - first.t < 1) return 0;
    return (this.#bytes - first.bytes) / ((now - first.t) / 1000);
  }

  /** Starts (or resumes) fetching, from `lookup` if the caller has just made one. */
  async start(lookup?: LookupResult): Promise<void> {
    this.#deps.served.set({ meta: this.rec, path: this.partPath, have: this.rec.have });
    this.#hasher = this.#deps.wholeHasher(this.partPath);
    this.#advancePrefix();
    if (this.haveCount === this.n) return await this.#finish();
    this.#timers.push(setInterval(() => this.#flushReport(), REPORT_INTERVAL_MS));
    this.#timers.push(setInterval(() => {
      const due = this.#hasPartialPeer() ? PARTIAL_REFRESH_MS : REFRESH_INTERVAL_MS;
      if (performance.now() - this.#refreshedAt >= due - PARTIAL_REFRESH_MS / 2) this.#refresh();
      this.#dropStalled();
    }, PARTIAL_REFRESH_MS));
    this.#samples.push({ t: performance.now(), bytes: 0 });
    await this.#refresh(lookup);
  }

  /**
   * The peer is shutting down: transfers stop, and whatever fails because of
   * it (the whole-file hash, when its worker is stopped) does not count as
   * the download failing, so it resumes at the next start.
   */
  stop(): void {
    this.#stopping = true;
    this.pause();
    this.#resolveDone();
  }

  /** Stops all transfers for good (pause, logout or shutdown); a new Download resumes it. */
  pause(): void {
    this.#halted = true;
    this.#stopTransfers();
    this.#flushReport();
    // This object is done with; whoever waits on it looks again (a new Download resumes it).
    this.#resolveDone();
  }

  #stopTransfers(): void {
    if (this.status === "D" || this.status === "F") {
      this.#hasher?.cancel();
      this.#hasher = null;
    }
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    clearTimeout(this.#retryTimer);
    for (const s of this.#slots.values()) if (s.conn !== null) this.#deps.pool.close(s.conn);
  }

  /** True if a peer we may fetch from has only part of the file. */
  #hasPartialPeer(): boolean {
    for (const s of this.#slots.values()) if (!s.dropped && s.has !== null) return true;
    return false;
  }

  async #refresh(known?: LookupResult): Promise<void> {
    if (this.status !== "D" || this.#halted) return;
    this.#refreshedAt = performance.now();
    let r: LookupResult;
    try {
      r = known ?? await this.#deps.lookup(this.rec.group, this.rec.name);
    } catch (err) {
      if (err instanceof LookupRefused && FINAL_REFUSAL.test(err.message)) {
        if (++this.#refusals >= FINAL_REFUSALS) return this.#fail(err.message);
        logger.info("Lookup of {name} refused: {error}; asking again before giving up", {
          name: this.rec.name,
          error: err.message,
        });
        return;
      }
      logger.warn("Lookup of {name} failed: {error}", {
        name: this.rec.name,
        error: describeError(err),
      });
      return;
    }
    if (this.status !== "D" || this.#halted) return;
    this.#refusals = 0;
    this.#grant = r.grant;
    this.#looked = true;
    const perPeer = r.peers.length === 0 ? 1 : Math.ceil(MIN_CONNECTIONS / r.peers.length);
    const listed = new Set(r.peers.map((p) => p.addr));
    for (const s of this.#slots.values()) {
      if (!listed.has(s.addr)) s.listed = false;
    }
    for (const p of r.peers) {
      const has = p.have === "all" ? null : decodeBase64(p.have);
      for (let k = 0; k < perPeer; k++) {
        const key = `${p.addr}#${k}`;
        const s = this.#slots.get(key);
        if (s) {
          // What a peer has only grows: keep what its welcome said, add what it reported since.
          s.has = s.has === null || has === null ? null : unionBits(s.has, has);
          if (!s.listed && s.conn === null) {
            // Back online after the trackers had left it out: try it at once, not after backoff.
            s.failures = 0;
            s.retryAt = 0;
          }
          s.listed = true;
          continue;
        }
        this.#slots.set(key, {
          key,
          addr: p.addr,
          has,
          conn: null,
          opened: false,
          requested: new Set(),
          refused: new Set(),
          failures: 0,
          retryAt: 0,
          dropped: this.#banned.has(p.addr),
          listed: true,
          lastDataAt: 0,
        });
      }
    }
    this.#recount();
    this.#pump();
  }

  /** Availability counts the peers that are online: listed by the trackers or connected. */
  #recount(): void {
    const seen = new Map<string, Uint8Array | null>();
    for (const s of this.#slots.values()) {
      if (!s.dropped && (s.listed || s.opened)) seen.set(s.addr, s.has);
    }
    this.#availability = availabilityOf(this.n, seen.values());
    this.#minAvailability = minOf(this.#availability);
  }

  #pump(): void {
    if (this.status !== "D" || this.#halted) return;
    const now = Date.now();
    const depth = this.#depth();
    let nextRetry = Infinity;
    for (const s of this.#slots.values()) {
      if (s.dropped) continue;
      if (s.conn === null) {
        // A peer the trackers list as offline is tried again once they list it.
        if (!s.listed) continue;
        if (s.retryAt > now) {
          nextRetry = Math.min(nextRetry, s.retryAt);
          continue;
        }
        if (this.#grant !== null) this.#open(s);
        continue;
      }
      if (!s.opened) continue;
      while (s.requested.size < depth) {
        const p = pickPiece({
          n: this.n,
          mine: this.rec.have,
          peerHas: s.has,
          availability: this.#availability,
          inFlight: this.#inFlight,
          fromPeer: this.#askedOf(s),
          random: Math.random,
          window: PICK_WINDOW,
          minAvailability: this.#minAvailability,
          haveBefore: this.#prefix,
        });
        if (p < 0) break;
        s.requested.add(p);
        this.#inFlight.set(p, (this.#inFlight.get(p) ?? 0) + 1);
        this.#deps.pool.get(s.conn, p);
      }
    }
    if (nextRetry < Infinity) {
      clearTimeout(this.#retryTimer);
      this.#retryTimer = setTimeout(() => this.#pump(), nextRetry - now);
    }
  }

  /**
   * Requests to keep outstanding per connection, from the budget shared by
   * the connections that are open or opening for the first time (not those
   * retrying a peer that failed, which may be gone: they count once open).
   */
  #depth(): number {
    let open = 0;
    for (const s of this.#slots.values()) {
      if (!s.dropped && s.conn !== null && (s.opened || s.failures === 0)) open++;
    }
    const share = Math.floor(IN_FLIGHT_BUDGET / Math.max(1, open));
    return Math.max(MIN_DEPTH, Math.min(PIPELINE_DEPTH, share));
  }

  #open(s: Slot): void {
    let addr;
    try {
      addr = parseEndpoint(s.addr);
    } catch {
      s.dropped = true;
      return;
    }
    s.conn = this.#deps.pool.open({
      addr,
      group: this.rec.group,
      name: this.rec.name,
      sha1: this.rec.sha1,
      grant: this.#grant,
      path: this.partPath,
      size: this.rec.size,
      pieceSize: this.rec.pieceSize,
      hashes: this.rec.pieces,
    }, (e) => this.#onEvent(s, e));
  }

  #release(s: Slot, p: number): void {
    if (!s.requested.delete(p)) return;
    const c = (this.#inFlight.get(p) ?? 1) - 1;
    if (c > 0) this.#inFlight.set(p, c);
    else this.#inFlight.delete(p);
  }

  #onEvent(s: Slot, e: WorkerEvent): void {
    if (this.status !== "D" || this.#halted) return;
    switch (e.type) {
      case "opened":
        logger.debug("Connection to {addr} open after {ms} ms", {
          addr: s.addr,
          ms: Math.round(performance.now() - this.startedAt),
        });
        s.opened = true;
        s.lastDataAt = performance.now();
        s.has = e.have === "all" ? null : decodeBase64(e.have);
        this.#recount();
        break;
      case "done":
        this.#release(s, e.piece);
        s.failures = 0;
        s.lastDataAt = performance.now();
        if (hasBit(this.rec.have, e.piece)) this.#duplicates++;
        else {
          setBit(this.rec.have, e.piece);
          this.haveCount++;
          this.#bytes += e.bytes;
          this.#samples.push({ t: s.lastDataAt, bytes: this.#bytes });
          if (this.#samples.length > 64) this.#samples.splice(0, 32);
          this.#deps.db.addPiece(this.rec, e.piece);
          this.#pendingReport.push(e.piece);
          if (e.piece === this.#prefix) this.#advancePrefix();
          if (this.haveCount === this.n) {
            this.#finish();
            return;
          }
        }
        break;
      case "bad":
        this.#release(s, e.piece);
        this.#strikes.set(s.addr, (this.#strikes.get(s.addr) ?? 0) + 1);
        logger.warn("Bad piece {piece} of {name} from {addr}", {
          piece: e.piece,
          name: this.rec.name,
          addr: s.addr,
        });
        if ((this.#strikes.get(s.addr) ?? 0) >= MAX_STRIKES && !this.#banned.has(s.addr)) {
          this.#drop(s.addr, "sent bad pieces");
        }
        break;
      case "rejected":
        this.#release(s, e.piece);
        s.refused.add(e.piece);
        break;
      case "writeFailed":
        this.#fail(`cannot write ${this.partPath}: ${e.error}`);
        return;
      case "failed":
        for (const p of [...s.requested]) this.#release(s, p);
        s.conn = null;
        s.opened = false;
        s.refused.clear();
        s.failures++;
        s.retryAt = Date.now() + Math.min(30_000, 250 * 2 ** s.failures);
        this.#recount();
        logger.info("Connection to {addr} for {name} ended: {error}", {
          addr: s.addr,
          name: this.rec.name,
          error: e.error,
        });
        break;
    }
    this.#pump();
  }

  /**
   * Closes the connections that have requests outstanding and delivered
   * nothing for {@linkcode SOURCE_STALL_MS} ({@linkcode OFFLINE_STALL_MS}
   * once the trackers no longer list the peer); their `failed` events give
   * the pieces to other peers.
   */
  /** How long a listed source may deliver nothing: {@linkcode SOURCE_STALL_MS} per 512 KiB of piece. */
  get #stallMs(): number {
    return SOURCE_STALL_MS * Math.max(1, this.rec.pieceSize / PIECE_SIZE);
  }

  #dropStalled(): void {
    const now = performance.now();
    for (const s of this.#slots.values()) {
      if (s.conn === null || !s.opened || s.requested.size === 0) continue;
      const limit = s.listed ? this.#stallMs : OFFLINE_STALL_MS;
      if (now - s.lastDataAt < limit) continue;
      logger.info("{addr} delivered nothing for {ms} ms: dropping its connection", {
        addr: s.addr,
        ms: Math.round(now - s.lastDataAt),
      });
      s.lastDataAt = now;
      this.#deps.pool.close(s.conn);
    }
  }

  /** Pieces already asked of this slot's peer address (over all its connections) or refused. */
  #askedOf(slot: Slot): Set<number> {
    const asked = new Set(slot.refused);
    for (const s of this.#slots.values()) {
      if (s.addr === slot.addr) { for (const p of s.requested) asked.add(p); }
    }
    return asked;
  }

  #drop(addr: string, why: string): void {
    this.#banned.add(addr);
    logger.warn("Dropping peer {addr} for {name}: {why}", { addr, name: this.rec.name, why });
    for (const s of this.#slots.values()) {
      if (s.addr !== addr) continue;
      s.dropped = true;
      if (s.conn !== null) this.#deps.pool.close(s.conn);
    }
    this.#recount();
  }

  #advancePrefix(): void {
    while (this.#prefix < this.n && hasBit(this.rec.have, this.#prefix)) this.#prefix++;
    this.#hasher?.advance(Math.min(this.rec.size, this.#prefix * this.rec.pieceSize));
  }

  #flushReport(): void {
    if (this.#pendingReport.length === 0) return;
    const pieces = this.#pendingReport.splice(0);
    this.#deps.report(this.rec.group, this.rec.name, pieces).catch((err) => {
      logger.warn("Cannot report pieces: {error}", { error: describeError(err) });
    });
  }

  async #finish(): Promise<void> {
    logger.info("All pieces of {name} after {ms} ms ({dups} duplicates)", {
      name: this.rec.name,
      ms: Math.round(performance.now() - this.startedAt),
      dups: this.#duplicates,
    });
    this.status = "V";
    this.#stopTransfers();
    this.#flushReport();
    try {
      // End-game duplicates may still be queued for writing: let them land
      // before the file is hashed, renamed and its modification time recorded.
      await this.#deps.pool.drain(this.partPath);
      const sha1 = await this.#hasher!.finish(this.rec.size);
      this.#hasher = null;
      if (sha1 !== this.rec.sha1) {
        return this.#fail(`whole-file SHA-1 mismatch (got ${sha1.slice(0, 12)}…)`);
      }
      await Deno.rename(this.partPath, this.finalPath);
    } catch (err) {
      return this.#fail(describeError(err));
    }
    this.status = "C";
    this.rec.status = "C";
    this.#deps.db.updateHave(this.rec, this.rec.have);
    this.#deps.db.setStatus(this.rec, "C", null);
    await this.#deps.finished(this).catch(() => {});
    this.#resolveDone();
  }

  #fail(error: string): void {
    if (this.status === "F" || this.#stopping) return;
    this.#stopTransfers();
    this.status = "F";
    this.error = error;
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
