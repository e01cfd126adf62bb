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
  /** Its place in the queue (a ticket drawn when first refused). */
  ticket: number;
  /** When it was last refused. */
  last: number;
}

/** The upload slots of one serving peer. */
export class UploadSlots {
  readonly #slots: number;
  readonly #holders = new Map<string, Holder>();
  /** Downloaders refused lately, in the order they were first refused. */
  readonly #waiting = new Map<string, Waiter>();
  #tickets = 0;

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
    // A newcomer's ticket comes before those of holders whose turn ends now.
    const known = this.#holders.has(key) || this.#waiting.has(key);
    const fresh = known ? -1 : this.#tickets++;
    this.#expire(now);
    const h = this.#holders.get(key);
    if (h) {
      h.last = now;
      return true;
    }
    const w = this.#waiting.get(key);
    const ticket = w?.ticket ?? (fresh >= 0 ? fresh : this.#tickets++);
    let ahead = 0;
    for (const [k, o] of this.#waiting) if (k !== key && o.ticket < ticket) ahead++;
    if (ahead < this.#slots - this.#holders.size) {
      this.#waiting.delete(key);
      this.#holders.set(key, { since: now, last: now });
      return true;
    }
    this.#waiting.set(key, { ticket, last: now });
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

  #expire(now: number): void {
    for (const [k, w] of this.#waiting) if (now - w.last >= WAITER_MS) this.#waiting.delete(k);
    for (const [k, h] of this.#holders) {
      if (now - h.last >= SLOT_IDLE_MS) {
        this.#holders.delete(k);
      } else if (now - h.since >= SLOT_TURN_MS && this.#waiting.size > 0) {
        // Its turn is over while others wait: it joins the back of the queue.
        this.#holders.delete(k);
        this.#waiting.set(k, { ticket: this.#tickets++, last: now });
      }
    }
  }
}
