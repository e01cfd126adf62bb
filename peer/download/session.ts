/**
 * A download session: the protocol of one download as a state machine, in
 * the sans-I/O style (h11, quinn-proto). It takes events ({@link
 * ./session_events.ts}), each carrying the time, and returns the actions a
 * driver ({@link ./driver.ts}) carries out: which peer to connect to, which
 * piece to ask of which connection, what to record and report, when the
 * whole-file hash may follow, when the download is complete or failed, and
 * ({@linkcode DownloadSession.wakeAt}) when it wants the next `tick`. It owns
 * no socket, worker, timer, database or clock.
 */
import { countBits, hasBit, setBit } from "../../shared/bitfield.ts";
import { log } from "../../shared/log.ts";
import { RateMeter } from "./rate_meter.ts";
import type { SessionAction, SessionEvent } from "./session_events.ts";
import { RequestPlanner } from "./request_planner.ts";
import { type Slot, Sources } from "./sources.ts";
import type { LookupResult } from "./tracker_answers.ts";

const logger = log("peer", "download");

/** Verified pieces are reported to the tracker at least this often. */
export const REPORT_INTERVAL_MS = 500;
/** The peer list and grant are refreshed from the tracker this often. */
export const REFRESH_INTERVAL_MS = 2000;
/**
 * While some peer has only part of the file, its pieces are looked up this
 * often instead, so that downloaders of one file start serving each other
 * soon after they verify pieces (the tracker hears of them within
 * {@linkcode REPORT_INTERVAL_MS}). It is also how often the session checks
 * for stalled sources (see request_planner.ts) and due lookups.
 */
export const PARTIAL_REFRESH_MS = 1000;
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
export const FINAL_REFUSALS = 2;

/**
 * How a session stands: downloading, verifying the whole file (and renaming
 * it), complete, failed.
 */
export type SessionStatus = "D" | "V" | "C" | "F";

/** The file a session downloads. */
export interface SessionFile {
  name: string;
  size: number;
  pieceSize: number;
  /** Hex SHA-1 of the whole file. */
  sha1: string;
  /** Verified pieces: the session sets a bit for each piece it verifies. */
  have: Uint8Array;
  /** Where the pieces are written (named in a failure to write). */
  partPath: string;
}

/** Options for {@linkcode DownloadSession}. */
export interface SessionOptions {
  /** Breaks ties between equally rare pieces; default Math.random. */
  random?: () => number;
}

/** One download's state machine; see the module comment. */
export class DownloadSession {
  /** Pieces in the file. */
  readonly n: number;
  #haveCount: number;
  #status: SessionStatus = "D";
  #error: string | null = null;
  #duplicates = 0;
  #file: SessionFile;
  #sources: Sources;
  #planner: RequestPlanner;
  #grant: unknown = null;
  #pendingReport: number[] = [];
  #reportAt = Infinity;
  #checkAt = Infinity;
  #startedAt = 0;
  #refreshedAt = 0;
  #rate = new RateMeter();
  /** Pieces 0 .. prefix-1 are all verified. */
  #prefix = 0;
  #hashedTo = 0;
  /** True once a lookup has answered (before it, nothing is known to be missing). */
  #looked = false;
  /** Final refusals of the lookups in a row. */
  #refusals = 0;
  /** Halted by a stop: what fails because of it does not fail the download. */
  #stopping = false;
  /**
   * Set by a `halt`: the session plans nothing more (the closed events of
   * the connections it closed, a lookup still in flight and pieces still
   * arriving are ignored); a paused download continues as a new session
   * from its recorded pieces.
   */
  #halted = false;

  /** A session for `file`, which may already have verified pieces. */
  constructor(file: SessionFile, options: SessionOptions = {}) {
    this.#file = file;
    this.n = Math.ceil(file.size / file.pieceSize);
    this.#haveCount = countBits(file.have, this.n);
    this.#sources = new Sources(this.n);
    this.#planner = new RequestPlanner(
      this.#sources,
      { n: this.n, pieceSize: file.pieceSize, have: file.have },
      options.random ?? Math.random,
    );
  }

  /** Verified pieces. */
  get haveCount(): number {
    return this.#haveCount;
  }

  /** Downloading, verifying, complete or failed. */
  get status(): SessionStatus {
    return this.#status;
  }

  /** Why the download failed (status F). */
  get error(): string | null {
    return this.#error;
  }

  /** End-game duplicates received. */
  get duplicates(): number {
    return this.#duplicates;
  }

  /** Connected peers. */
  get peerCount(): number {
    return this.#sources.peerCount;
  }

  /**
   * Why the download cannot finish now, or null: some pieces are on no peer
   * that is online (listed by the trackers or connected). It goes on by
   * itself when a source comes back.
   */
  get stalled(): string | null {
    if (this.#status !== "D" || !this.#looked) return null;
    const availability = this.#sources.availability;
    let missing = 0;
    for (let p = 0; p < this.n; p++) {
      if (!hasBit(this.#file.have, p) && availability[p] === 0) missing++;
    }
    if (missing === 0) return null;
    return `no online peer has ${missing} of ${this.n} pieces`;
  }

  /** Bytes per second over the two seconds before `now`. */
  rateAt(now: number): number {
    return this.#rate.rateAt(now);
  }

  /** When the session wants a `tick` next (Infinity: never, unless something happens). */
  get wakeAt(): number {
    if (this.#status !== "D" || this.#halted) return Infinity;
    const t = Math.min(this.#checkAt, this.#planner.nextRetry);
    return this.#pendingReport.length > 0 ? Math.min(t, this.#reportAt) : t;
  }

  /** Takes one event; returns what to do about it, in order. */
  handle(e: SessionEvent): SessionAction[] {
    const out: SessionAction[] = [];
    switch (e.type) {
      case "start":
        this.#start(e.now, out, e.lookup);
        return out;
      case "halt":
        this.#halt(e.how, out);
        return out;
      case "wholeHashed":
        if (this.#status !== "V") return out;
        if (e.sha1 !== this.#file.sha1) {
          this.#fail(`whole-file SHA-1 mismatch (got ${e.sha1.slice(0, 12)}…)`, out);
        } else out.push({ type: "rename" });
        return out;
      case "renamed":
        if (this.#status !== "V") return out;
        this.#status = "C";
        out.push({ type: "complete" });
        return out;
      case "finishFailed":
        if (this.#status === "V") this.#fail(e.error, out);
        return out;
    }
    if (this.#status !== "D" || this.#halted) return out;
    switch (e.type) {
      case "tick":
        this.#tick(e.now, out);
        return out;
      case "sources":
        this.#onSources(e.lookup, e.now, out);
        return out;
      case "lookupFailed":
        this.#onLookupFailed(e.error, e.refused, out);
        return out;
    }
    const s = this.#sources.slotOf(e.conn);
    if (!s) return out;
    switch (e.type) {
      case "opened":
        logger.debug("Connection to {addr} open after {ms} ms", {
          addr: s.addr,
          ms: Math.round(e.now - this.#startedAt),
        });
        this.#sources.opened(s, e.have, e.now);
        break;
      case "verified":
        if (this.#onVerified(s, e.piece, e.bytes, e.now, out)) return out;
        break;
      case "bad":
        this.#onBad(s, e.piece, out);
        break;
      case "refused":
        this.#sources.release(s, e.piece);
        if (e.choked) this.#planner.choked(s, e.now);
        else s.refused.add(e.piece);
        break;
      case "writeFailed":
        this.#fail(`cannot write ${this.#file.partPath}: ${e.error}`, out);
        return out;
      case "closed":
        this.#sources.closed(s, e.now);
        logger.info("Connection to {addr} for {name} ended: {error}", {
          addr: s.addr,
          name: this.#file.name,
          error: e.error,
        });
        break;
    }
    this.#pump(e.now, out);
    return out;
  }

  #start(now: number, out: SessionAction[], lookup?: LookupResult): void {
    this.#startedAt = now;
    this.#advancePrefix(out);
    if (this.#haveCount === this.n) return this.#finish(now, out);
    this.#checkAt = now + PARTIAL_REFRESH_MS;
    this.#rate.add(now, 0);
    this.#refresh(now, out, lookup);
  }

  #halt(how: "pause" | "stop", out: SessionAction[]): void {
    if (how === "stop") this.#stopping = true;
    this.#halted = true;
    this.#stopTransfers(out);
    this.#flushReport(out);
  }

  #tick(now: number, out: SessionAction[]): void {
    if (this.#pendingReport.length > 0 && now >= this.#reportAt) this.#flushReport(out);
    if (now >= this.#checkAt) {
      this.#checkAt = nextAfter(now, this.#startedAt, PARTIAL_REFRESH_MS);
      const due = this.#sources.hasPartialPeer() ? PARTIAL_REFRESH_MS : REFRESH_INTERVAL_MS;
      if (now - this.#refreshedAt >= due - PARTIAL_REFRESH_MS / 2) this.#refresh(now, out);
      this.#planner.dropStalled(now, out);
    }
    if (now >= this.#planner.nextRetry) this.#pump(now, out);
  }

  #refresh(now: number, out: SessionAction[], known?: LookupResult): void {
    this.#refreshedAt = now;
    if (known) this.#onSources(known, now, out);
    else out.push({ type: "lookup" });
  }

  #onSources(r: LookupResult, now: number, out: SessionAction[]): void {
    this.#refusals = 0;
    this.#grant = r.grant;
    this.#looked = true;
    this.#sources.merge(r.peers);
    this.#pump(now, out);
  }

  #onLookupFailed(error: string, refused: boolean, out: SessionAction[]): void {
    if (refused && FINAL_REFUSAL.test(error)) {
      if (++this.#refusals >= FINAL_REFUSALS) return this.#fail(error, out);
      logger.info("Lookup of {name} refused: {error}; asking again before giving up", {
        name: this.#file.name,
        error,
      });
      return;
    }
    logger.warn("Lookup of {name} failed: {error}", { name: this.#file.name, error });
  }

  /** A piece arrived verified and written; true when it was the last one. */
  #onVerified(s: Slot, piece: number, bytes: number, now: number, out: SessionAction[]): boolean {
    this.#sources.release(s, piece);
    s.failures = 0;
    s.choked = false;
    s.lastDataAt = now;
    const have = this.#file.have;
    if (hasBit(have, piece)) {
      this.#duplicates++;
      return false;
    }
    setBit(have, piece);
    this.#haveCount++;
    this.#rate.add(now, bytes);
    out.push({ type: "record", piece });
    if (this.#pendingReport.length === 0) {
      this.#reportAt = nextAfter(now, this.#startedAt, REPORT_INTERVAL_MS);
    }
    this.#pendingReport.push(piece);
    if (piece === this.#prefix) this.#advancePrefix(out);
    if (this.#haveCount < this.n) return false;
    this.#finish(now, out);
    return true;
  }

  #onBad(s: Slot, piece: number, out: SessionAction[]): void {
    this.#sources.release(s, piece);
    logger.warn("Bad piece {piece} of {name} from {addr}", {
      piece,
      name: this.#file.name,
      addr: s.addr,
    });
    if (!this.#sources.strike(s.addr)) return;
    for (const conn of this.#sources.ban(s.addr, this.#file.name, "sent bad pieces")) {
      out.push({ type: "close", conn });
    }
  }

  #pump(now: number, out: SessionAction[]): void {
    this.#planner.pump(now, { prefix: this.#prefix, grant: this.#grant }, out);
  }

  #advancePrefix(out: SessionAction[]): void {
    const have = this.#file.have;
    while (this.#prefix < this.n && hasBit(have, this.#prefix)) this.#prefix++;
    const bytes = Math.min(this.#file.size, this.#prefix * this.#file.pieceSize);
    if (bytes <= this.#hashedTo) return;
    this.#hashedTo = bytes;
    out.push({ type: "hashPrefix", pieces: this.#prefix, bytes });
  }

  #flushReport(out: SessionAction[]): void {
    if (this.#pendingReport.length === 0) return;
    out.push({ type: "report", pieces: this.#pendingReport });
    this.#pendingReport = [];
  }

  /** Closes every connection; the whole-file hash stops too unless it is what runs now. */
  #stopTransfers(out: SessionAction[]): void {
    if (this.#status === "D" || this.#status === "F") out.push({ type: "cancelHash" });
    for (const s of this.#sources.attached) out.push({ type: "close", conn: s.conn! });
  }

  #finish(now: number, out: SessionAction[]): void {
    logger.info("All pieces of {name} after {ms} ms ({dups} duplicates)", {
      name: this.#file.name,
      ms: Math.round(now - this.#startedAt),
      dups: this.#duplicates,
    });
    this.#status = "V";
    this.#stopTransfers(out);
    this.#flushReport(out);
    // End-game duplicates may still be queued for writing: the driver lets them land first.
    out.push({ type: "verifyWhole" });
  }

  #fail(error: string, out: SessionAction[]): void {
    if (this.#status === "F" || this.#stopping) return;
    this.#stopTransfers(out);
    this.#status = "F";
    this.#error = error;
    out.push({ type: "fail", error });
  }
}

/** The first time after `now` on the grid `start + k * interval`. */
function nextAfter(now: number, start: number, interval: number): number {
  return start + (Math.floor((now - start) / interval) + 1) * interval;
}
