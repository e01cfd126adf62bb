/**
 * The sources of one download session: a slot per connection it may open to
 * each peer the trackers list, what each peer has, the requests out to each,
 * strikes and bans, backoff, and the availability of every piece among the
 * peers that are online. Pure bookkeeping for {@link ./session.ts}: no I/O,
 * no clock (times come in as arguments).
 */
import { decodeBase64 } from "../../shared/base64.ts";
import { unionBits } from "../../shared/bitfield.ts";
import { log } from "../../shared/log.ts";
import { availabilityOf, minOf } from "./piece_picker.ts";
import type { LookupResult } from "./tracker_answers.ts";

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
/** A peer that sends this many bad pieces is dropped for the download. */
export const MAX_STRIKES = 2;
/**
 * A download opens at least this many connections, spread over its peers
 * (one per peer when there are more). Two to a lone seeder keep it busy on a
 * LAN (each has PIPELINE_DEPTH pieces, 4 MiB, in flight); four measured no
 * faster on loopback. Two connections share a transfer worker (worker_pool.ts).
 */
export const MIN_CONNECTIONS = 2;
/**
 * Connections a download holds at once, at most (BitTorrent clients hold
 * about 50 per torrent). Lookups in a large swarm name new peers every time;
 * without a cap a downloader in a crowd of 1,000 would end up connected to
 * all of them, each connection a TLS session with its own buffers, and its
 * session would walk all of them on every event (docs/SCALING.md).
 */
export const MAX_CONNECTIONS = 40;
/**
 * Slots a download keeps for peers the last lookup did not list and that it
 * has no connection to, at most: past it they are forgotten (a lookup that
 * lists them again makes new ones). In a swarm of thousands each lookup names
 * another random 50, and the slots would grow without end.
 */
export const MAX_IDLE_SLOTS = 100;
/** Twice this is the wait before reconnecting after the first failure (500 ms); it doubles with each further one. */
export const BACKOFF_BASE_MS = 250;
/** The longest wait before reconnecting to a failing source. */
export const BACKOFF_MAX_MS = 30_000;

/** One connection the session may hold to a peer. */
export interface Slot {
  key: string;
  addr: string;
  /** The pieces the peer has; null means all. */
  has: Uint8Array | null;
  /** The session's id of the connection, while one is open or opening. */
  conn: number | null;
  opened: boolean;
  requested: Set<number>;
  refused: Set<number>;
  failures: number;
  /** When a connection may be opened again after a failure. */
  retryAt: number;
  dropped: boolean;
  /** Listed as online by the last lookup. */
  listed: boolean;
  /** When this connection last delivered a piece (or was opened). */
  lastDataAt: number;
  /** Until when the peer is not asked (it refused us an upload slot). */
  chokedUntil: number;
  /**
   * Its last answer was CHOKED and no piece has come since: it is asked one
   * piece at a time (a probe), not a full pipeline that would all come back
   * refused.
   */
  choked: boolean;
}

/** The slots of one download and what follows from them; see the module comment. */
export class Sources {
  /** Every slot, by `addr#k`. */
  readonly slots = new Map<string, Slot>();
  /** For each piece in flight, how many requests are out for it. */
  readonly inFlight = new Map<number, number>();
  /** The slots with a connection open or opening (at most {@linkcode MAX_CONNECTIONS}). */
  readonly attached = new Set<Slot>();
  /** For each piece, how many online peers have it. */
  availability: Uint32Array;
  /** The least of {@linkcode availability}. */
  minAvailability = 0;
  #n: number;
  #byConn = new Map<number, Slot>();
  /** Bad pieces received from each peer address. */
  #strikes = new Map<string, number>();
  /** Peer addresses dropped for this download. */
  #banned = new Set<string>();

  /** Sources of a file of `n` pieces: none yet. */
  constructor(n: number) {
    this.#n = n;
    this.availability = new Uint32Array(n);
  }

  /** The slot holding connection `conn`, if it is still attached to one. */
  slotOf(conn: number): Slot | undefined {
    return this.#byConn.get(conn);
  }

  /** Connected peers. */
  get peerCount(): number {
    let c = 0;
    for (const s of this.attached) if (s.opened) c++;
    return c;
  }

  /**
   * A lookup's answer: new peers get slots (enough for
   * {@linkcode MIN_CONNECTIONS} in all), known ones what they reported since,
   * and peers left out count as offline.
   */
  merge(peers: LookupResult["peers"]): void {
    const perPeer = peers.length === 0 ? 1 : Math.ceil(MIN_CONNECTIONS / peers.length);
    const listed = new Set(peers.map((p) => p.addr));
    let idle = 0;
    for (const s of this.slots.values()) {
      if (!listed.has(s.addr)) {
        s.listed = false;
        if (s.conn === null) idle++;
      }
    }
    if (idle > MAX_IDLE_SLOTS) {
      // Bans and strikes are kept by address, so nothing is lost but backoff.
      for (const [key, s] of this.slots) if (!s.listed && s.conn === null) this.slots.delete(key);
    }
    for (const p of peers) {
      const has = p.have === "all" ? null : decodeBase64(p.have);
      for (let k = 0; k < perPeer; k++) {
        const key = `${p.addr}#${k}`;
        const s = this.slots.get(key);
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
        this.slots.set(key, {
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
          chokedUntil: 0,
          choked: false,
        });
      }
    }
    this.recount();
  }

  /** Availability counts the peers that are online: listed by the trackers or connected. */
  recount(): void {
    const seen = new Map<string, Uint8Array | null>();
    for (const s of this.slots.values()) {
      if (!s.dropped && (s.listed || s.opened)) seen.set(s.addr, s.has);
    }
    this.availability = availabilityOf(this.#n, seen.values());
    this.minAvailability = minOf(this.availability);
  }

  /** Connection `conn` is opening for slot `s`. */
  attach(s: Slot, conn: number): void {
    s.conn = conn;
    this.#byConn.set(conn, s);
    this.attached.add(s);
  }

  /** Connection `s.conn` opened; the peer has `have` ("all" or a base64 bitfield). */
  opened(s: Slot, have: string, now: number): void {
    s.opened = true;
    s.lastDataAt = now;
    s.has = have === "all" ? null : decodeBase64(have);
    this.recount();
  }

  /** Connection `s.conn` ended: its requests go back, and it is retried after backoff. */
  closed(s: Slot, now: number): void {
    for (const p of [...s.requested]) this.release(s, p);
    if (s.conn !== null) this.#byConn.delete(s.conn);
    this.attached.delete(s);
    s.conn = null;
    s.opened = false;
    s.refused.clear();
    s.choked = false;
    s.failures++;
    s.retryAt = now + Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** s.failures);
    this.recount();
  }

  /** Piece `p` is requested over slot `s`. */
  request(s: Slot, p: number): void {
    s.requested.add(p);
    this.inFlight.set(p, (this.inFlight.get(p) ?? 0) + 1);
  }

  /** The request for piece `p` over slot `s` is answered (or given up). */
  release(s: Slot, p: number): void {
    if (!s.requested.delete(p)) return;
    const c = (this.inFlight.get(p) ?? 1) - 1;
    if (c > 0) this.inFlight.set(p, c);
    else this.inFlight.delete(p);
  }

  /**
   * Requests to keep outstanding per connection, from the budget shared by
   * the connections that are open or opening for the first time (not those
   * retrying a peer that failed, which may be gone: they count once open,
   * nor those choked: they are asked one piece at a time).
   */
  depth(now = 0): number {
    let open = 0;
    for (const s of this.attached) {
      if (s.dropped || s.chokedUntil > now || s.choked) continue;
      if (s.opened || s.failures === 0) open++;
    }
    const share = Math.floor(IN_FLIGHT_BUDGET / Math.max(1, open));
    return Math.max(MIN_DEPTH, Math.min(PIPELINE_DEPTH, share));
  }

  /** Pieces already asked of this slot's peer address (over all its connections) or refused. */
  askedOf(slot: Slot): Set<number> {
    const asked = new Set(slot.refused);
    for (const s of this.attached) {
      if (s.addr === slot.addr) { for (const p of s.requested) asked.add(p); }
    }
    return asked;
  }

  /** True if the peer of slot `s` has a piece that `mine` lacks. */
  hasWhatWeLack(s: Slot, mine: Uint8Array): boolean {
    const has = s.has;
    if (has === null) return true;
    for (let i = 0; i < mine.length; i++) if ((has[i]! & ~mine[i]!) !== 0) return true;
    return false;
  }

  /** True if a listed peer has no connection and may be connected to at `now`. */
  hasCandidate(now: number): boolean {
    for (const s of this.slots.values()) {
      if (!s.dropped && s.conn === null && s.listed && s.retryAt <= now) return true;
    }
    return false;
  }

  /** True if a peer we may fetch from has only part of the file. */
  hasPartialPeer(): boolean {
    for (const s of this.slots.values()) if (!s.dropped && s.has !== null) return true;
    return false;
  }

  /**
   * A bad piece from `addr`; true when that was its {@linkcode MAX_STRIKES}th
   * and it is not banned yet (the caller then bans it).
   */
  strike(addr: string): boolean {
    const n = (this.#strikes.get(addr) ?? 0) + 1;
    this.#strikes.set(addr, n);
    return n >= MAX_STRIKES && !this.#banned.has(addr);
  }

  /** Drops `addr` for this download; returns its open connections, for the caller to close. */
  ban(addr: string, name: string, why: string): number[] {
    this.#banned.add(addr);
    logger.warn("Dropping peer {addr} for {name}: {why}", { addr, name, why });
    const conns: number[] = [];
    for (const s of this.slots.values()) {
      if (s.addr !== addr) continue;
      s.dropped = true;
      if (s.conn !== null) conns.push(s.conn);
    }
    this.recount();
    return conns;
  }
}
