/**
 * The planning half of a download session: which sources to connect to
 * (when their backoff allows), which piece to ask of each open connection
 * (the piece picker, up to the pipeline depth), and which connections to
 * drop for delivering nothing. Pure: it writes actions, the time comes in.
 */
import { PIECE_SIZE } from "../../shared/constants.ts";
import { log } from "../../shared/log.ts";
import { parseEndpoint } from "../../shared/tracker_info.ts";
import { pickPiece } from "./piece_picker.ts";
import type { SessionAction } from "./session_events.ts";
import { MAX_CONNECTIONS, type Slot, type Sources } from "./sources.ts";

const logger = log("peer", "download");

/** Ties between equally rare pieces are broken among this many nearest the front. */
export const PICK_WINDOW = 32;
/**
 * A source that delivers no 512 KiB piece for this long while requests to it
 * are outstanding (longer for larger pieces, in proportion) is dropped (its
 * connection closed, its pieces asked elsewhere) and retried with backoff: a
 * peer whose host vanished sends no FIN.
 */
export const SOURCE_STALL_MS = 5000;
/**
 * In end-game (every missing piece asked for) a piece is asked of at most
 * this many peers at once: the slowest source no longer holds the end back,
 * and a crowd with more connections than pieces does not ask each of its
 * peers for every piece (docs/SCALING.md).
 */
export const ENDGAME_REQUESTS = 2;
/**
 * A peer that refused us an upload slot is asked again after about this long
 * (a slot that frees stays free until the next in line asks again).
 */
export const CHOKE_RETRY_MS = 250;
/** The same for a source the trackers no longer list as online. */
export const OFFLINE_STALL_MS = 1000;

/** The file being planned for. */
export interface PlannedFile {
  /** Pieces in the file. */
  n: number;
  pieceSize: number;
  /** Verified pieces. */
  have: Uint8Array;
}

/** Plans the connections and requests of one download over its {@linkcode Sources}. */
export class RequestPlanner {
  /** The earliest time a failed source may be retried (Infinity: none waits). */
  nextRetry = Infinity;
  #sources: Sources;
  #file: PlannedFile;
  #random: () => number;
  #connIds = 0;
  /** How long a listed source may deliver nothing: {@linkcode SOURCE_STALL_MS} per 512 KiB of piece. */
  #stallMs: number;

  /** A planner over `sources`; `random` breaks ties between equally rare pieces. */
  constructor(sources: Sources, file: PlannedFile, random: () => number) {
    this.#sources = sources;
    this.#file = file;
    this.#random = random;
    this.#stallMs = SOURCE_STALL_MS * Math.max(1, file.pieceSize / PIECE_SIZE);
  }

  /**
   * Opens the connections that are due (with a grant to present) and fills
   * every open connection's pipeline; pieces before `prefix` are all ours.
   */
  pump(now: number, plan: { prefix: number; grant: unknown }, out: SessionAction[]): void {
    const sources = this.#sources;
    const depth = sources.depth(now);
    // In a crowd (other downloaders are sources too) everyone sees the same rarest pieces, and
    // a window at the front of the file would have them all ask the seeder for the same few:
    // ties are then broken over the whole file, so the seeder's uplink carries distinct pieces.
    const window = sources.hasPartialPeer() ? Infinity : PICK_WINDOW;
    let nextRetry = Infinity;
    // New connections, while fewer than MAX_CONNECTIONS are open or opening; when more peers
    // could be connected to than that, a random choice of them, so that a crowd whose lookups
    // list the same peers in the same order does not all pick the same few.
    const room = MAX_CONNECTIONS - sources.attached.size;
    if (room > 0) {
      const due: Slot[] = [];
      for (const s of sources.slots.values()) {
        // A peer the trackers list as offline is tried again once they list it.
        if (s.dropped || s.conn !== null || !s.listed) continue;
        if (s.retryAt > now) nextRetry = Math.min(nextRetry, s.retryAt);
        else due.push(s);
      }
      if (due.length > room) {
        for (let k = 0; k < room; k++) {
          const r = k + Math.floor(this.#random() * (due.length - k));
          [due[k], due[r]] = [due[r]!, due[k]!];
        }
        due.length = room;
      }
      if (plan.grant !== null) { for (const s of due) this.#connect(s, plan.grant, out); }
    }
    for (const s of sources.attached) {
      if (s.dropped || !s.opened) continue;
      if (s.chokedUntil > now) {
        nextRetry = Math.min(nextRetry, s.chokedUntil);
        continue;
      }
      const limit = s.choked ? 1 : depth;
      while (s.requested.size < limit) {
        const p = pickPiece({
          n: this.#file.n,
          mine: this.#file.have,
          peerHas: s.has,
          availability: sources.availability,
          inFlight: sources.inFlight,
          fromPeer: sources.askedOf(s),
          random: this.#random,
          window,
          minAvailability: sources.minAvailability,
          haveBefore: plan.prefix,
          maxRequests: ENDGAME_REQUESTS,
        });
        if (p < 0) break;
        sources.request(s, p);
        out.push({ type: "request", conn: s.conn!, piece: p });
      }
    }
    this.nextRetry = nextRetry;
  }

  /**
   * The peer of slot `s` refused a request as choked (its upload slots are
   * taken): it is not asked again for {@linkcode CHOKE_RETRY_MS} (half to one
   * and a half times, so that the refused do not all come back at once),
   * then one piece at a time until it sends one, and its stall clock restarts.
   */
  choked(s: Slot, now: number): void {
    s.choked = true;
    s.chokedUntil = now + CHOKE_RETRY_MS * (0.5 + this.#random());
    s.lastDataAt = now;
  }

  /**
   * Closes the connections that have requests outstanding and delivered
   * nothing for {@linkcode SOURCE_STALL_MS} ({@linkcode OFFLINE_STALL_MS}
   * once the trackers no longer list the peer); their `closed` events give
   * the pieces to other peers.
   */
  dropStalled(now: number, out: SessionAction[]): void {
    const sources = this.#sources;
    // At the cap with other peers waiting: a connection to a peer that has nothing we lack
    // makes room for one of them.
    const crowded = sources.attached.size >= MAX_CONNECTIONS && sources.hasCandidate(now);
    for (const s of sources.attached) {
      if (!s.opened) continue;
      if (crowded && s.requested.size === 0 && !sources.hasWhatWeLack(s, this.#file.have)) {
        out.push({ type: "close", conn: s.conn! });
        continue;
      }
      if (s.requested.size === 0) continue;
      const limit = s.listed ? this.#stallMs : OFFLINE_STALL_MS;
      if (now - s.lastDataAt < limit) continue;
      logger.info("{addr} delivered nothing for {ms} ms: dropping its connection", {
        addr: s.addr,
        ms: Math.round(now - s.lastDataAt),
      });
      s.lastDataAt = now;
      out.push({ type: "close", conn: s.conn! });
    }
  }

  #connect(s: Slot, grant: unknown, out: SessionAction[]): void {
    let addr;
    try {
      addr = parseEndpoint(s.addr);
    } catch {
      s.dropped = true;
      return;
    }
    const conn = ++this.#connIds;
    this.#sources.attach(s, conn);
    out.push({ type: "connect", conn, addr, grant });
  }
}
