/**
 * Who of the two trackers should be primary: a pure function of what each
 * knows of itself and of the other, so both sides reach the same answer.
 */

/** A tracker's role. */
export type Role = "starting" | "primary" | "secondary";

/** What a tracker tells the other about itself. */
export interface TrackerView {
  n: 1 | 2;
  role: Role;
  /** The highest epoch it knows. */
  epoch: number;
  /** Index of its last log entry. */
  index: number;
  /** Epoch of its last log entry. */
  lastEpoch: number;
}

/**
 * True when `me` should be primary. A primary stays primary unless the other
 * is a primary of a later epoch or knows a later epoch; otherwise the tracker
 * with the more recent log leads, tracker 1 on a tie. Antisymmetric: exactly
 * one of `shouldLead(a, b)` and `shouldLead(b, a)` holds.
 */
export function shouldLead(me: TrackerView, other: TrackerView): boolean {
  if (me.role === "primary" && other.role === "primary") {
    return me.epoch !== other.epoch ? me.epoch > other.epoch : me.n < other.n;
  }
  if (me.role === "primary" && me.epoch >= other.epoch) return true;
  if (other.role === "primary" && other.epoch >= me.epoch) return false;
  if (me.lastEpoch !== other.lastEpoch) return me.lastEpoch > other.lastEpoch;
  if (me.index !== other.index) return me.index > other.index;
  return me.n < other.n;
}

/**
 * The next epoch for tracker `n` above `above`. Tracker 1 uses odd epochs and
 * tracker 2 even ones, so no epoch ever has two primaries.
 */
export function nextEpoch(above: number, n: 1 | 2): number {
  let e = above + 1;
  if (e % 2 !== n % 2) e++;
  return e;
}

/** Reads a `state` or `hb` message of the tracker link; throws if it is malformed. */
export function parseView(msg: Record<string, unknown>): TrackerView {
  const { n, role, epoch, index, lastEpoch } = msg;
  if (
    (n !== 1 && n !== 2) || (role !== "primary" && role !== "secondary" && role !== "starting") ||
    typeof epoch !== "number" || typeof index !== "number" || typeof lastEpoch !== "number"
  ) {
    throw new Error("malformed tracker state message");
  }
  return { n, role, epoch, index, lastEpoch };
}
