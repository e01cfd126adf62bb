/**
 * Upload slots: a serving peer sends pieces to at most {@linkcode UPLOAD_SLOTS}
 * downloaders at a time and answers the others' requests with a
 * `CHOKED` reject, which tells them to ask again soon and meanwhile
 * fetch from other peers. Without slots a crowd splits a seeder's uplink
 * into as many thin shares as it has members, every piece reaches the crowd
 * slowly and the seeder spends its uplink on pieces the crowd already holds
 * (docs/SCALING.md). With them a few downloaders get pieces at full speed and
 * pass them on. A holder keeps its slot for {@linkcode SLOT_TURN_MS} while
 * others wait, then joins the back of the queue of those refused, so that
 * every downloader that keeps asking gets turns; one that asks nothing for
 * {@linkcode SLOT_IDLE_MS} gives its slot up at once.
 *
 * The reject's text is shared/protocol/transfer.ts's `CHOKED`.
 *
 * Pure: the time comes in, keys are whatever names a downloader (the
 * identity its certificate shows, so that its several connections share one
 * slot). The piece server (piece_server.ts) and the swarm simulator
 * (bench/sim/swarm_sim.ts) run this same class.
 */

/** Downloaders served at once (BitTorrent's default number of unchoked peers). */
export const UPLOAD_SLOTS = 4;
/** How long a holder keeps its slot while others are refused. */
export const SLOT_TURN_MS = 3000;
/** A holder that asked nothing for this long has given its slot up. */
export const SLOT_IDLE_MS = 500;
/** A downloader that was refused within this long counts as waiting. */
export const WAITER_MS = 2000;

interface Holder {
  since: number;
  last: number;
}

interface Waiter {
  /** When it was last refused. */
  last: number;
}

/** The upload slots of one serving peer. */
export class UploadSlots {
  readonly #slots: number;
  readonly #holders = new Map<string, Holder>();
  /**
   * Downloaders refused lately, in the order of their place in the queue (a
   * Map keeps the order keys were added in). Those that stopped asking are
   * removed lazily, when the front of the queue reaches them or a sweep
   * runs, so that an admit costs O(slots) and not O(waiters): a seeder may
   * have a crowd of thousands waiting (docs/SCALING.md).
   */
  readonly #waiting = new Map<string, Waiter>();
  /** The queue's length at which the next full sweep of stale waiters runs. */
  #sweepAt = 64;

  /** Slots for `slots` downloaders at a time (at least 1). */
  constructor(slots = UPLOAD_SLOTS) {
    this.#slots = Math.max(1, Math.floor(slots));
  }

  /** Downloaders holding a slot now. */
  get held(): number {
    return this.#holders.size;
  }

  /**
   * May downloader `key` be sent a piece at `now`? False: reject it as
   * choked. A free slot goes to the downloaders that have waited longest
   * (first come, first served), so a free slot may stay free until the one
   * whose turn it is asks again (within about CHOKE_RETRY_MS).
   */
  admit(key: string, now: number): boolean {
    const waiting = this.#waiting;
    // A waiter that stopped asking has lost its place: it queues again, at the back.
    const mine = waiting.get(key);
    if (mine && now - mine.last >= WAITER_MS) waiting.delete(key);
    const newcomer = !this.#holders.has(key) && !mine;
    // Holders that went idle give their slot up; those whose turn is over while others wait
    // join the back of the queue, behind a newcomer.
    let rotated: string[] | null = null;
    for (const [k, h] of this.#holders) {
      if (now - h.last >= SLOT_IDLE_MS) {
        this.#holders.delete(k);
      } else if (now - h.since >= SLOT_TURN_MS && this.#someoneWaits(now)) {
        this.#holders.delete(k);
        (rotated ??= []).push(k);
      }
    }
    if (newcomer) waiting.set(key, { last: now });
    for (const k of rotated ?? []) waiting.set(k, { last: now });
    const h = this.#holders.get(key);
    if (h) {
      h.last = now;
      return true;
    }
    // Admitted if fewer live waiters than free slots are ahead of it.
    const free = this.#slots - this.#holders.size;
    let ahead = 0;
    for (const [k, w] of waiting) {
      if (k === key) break;
      if (now - w.last >= WAITER_MS) {
        waiting.delete(k);
        continue;
      }
      if (++ahead >= free) break;
    }
    if (ahead < free) {
      waiting.delete(key);
      this.#holders.set(key, { since: now, last: now });
      return true;
    }
    const w = waiting.get(key);
    if (w) w.last = now;
    else waiting.set(key, { last: now });
    if (waiting.size >= this.#sweepAt) this.#sweep(now);
    return false;
  }

  /** A piece has just been sent to `key`: its idle clock starts now, not at its request. */
  served(key: string, now: number): void {
    const h = this.#holders.get(key);
    if (h) h.last = now;
  }

  /** Downloader `key` has gone (its last connection closed): its slot is free. */
  release(key: string): void {
    this.#holders.delete(key);
    this.#waiting.delete(key);
  }

  /** True if a waiter still asks; the stale ones met at the front of the queue are removed. */
  #someoneWaits(now: number): boolean {
    for (const [k, w] of this.#waiting) {
      if (now - w.last < WAITER_MS) return true;
      this.#waiting.delete(k);
    }
    return false;
  }

  /** Removes every stale waiter; the next sweep waits until the queue has doubled. */
  #sweep(now: number): void {
    for (const [k, w] of this.#waiting) if (now - w.last >= WAITER_MS) this.#waiting.delete(k);
    this.#sweepAt = Math.max(64, 2 * this.#waiting.size);
  }
}
