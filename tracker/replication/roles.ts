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

/** Whether a heartbeat shows the two trackers disagree on their roles (the link is then renegotiated). */
export function rolesDisagree(me: { role: Role; epoch: number }, other: TrackerView): boolean {
  const consistent = (me.role === "primary" && other.role === "secondary") ||
    (me.role === "secondary" && other.role === "primary");
  return !consistent || (other.epoch > me.epoch && me.role === "primary");
}

/** What a tracker knows when a dial to the other fails. */
export interface DialFailure {
  role: Role;
  /** The role persisted before this start (null: never had one). */
  lastRole: string | null;
  /** A link is up anyway (the other dialed in). */
  linked: boolean;
  /** It was catching up (persisted): it must not take over with a partial log. */
  syncing: boolean;
  /** The other's host refused the connection: nothing listens there. */
  refused: boolean;
  now: number;
  startedAt: number;
  /** When a secondary lost the link (0: not lost). */
  lostAt: number;
  graceMs: number;
  /** How long a tracker that was secondary waits at start for the other. */
  startWaitMs: number;
}

/** What to do after a failed dial. */
export type DialDecision =
  /** Nothing: a link is up, or a secondary waits out its grace period (from `lostAt`). */
  | { do: "wait"; lostAt?: number }
  /** Wait for the other: this tracker was catching up and holds a partial log. */
  | { do: "wait_catching_up" }
  /** Wait for the other: this tracker was secondary before it stopped. */
  | { do: "wait_at_start" }
  /** Become primary. */
  | { do: "promote" };

/**
 * Decides what a failed dial means. A starting tracker takes over unless it
 * was secondary (then it gives the other `startWaitMs` to come back: it may
 * lack writes the primary acknowledged alone); a secondary takes over once
 * the other is refused or its grace period is over; a tracker catching up
 * never does by itself.
 */
export function afterDialFailure(s: DialFailure): DialDecision {
  if (s.linked || s.syncing) {
    return s.syncing && s.role !== "primary" ? { do: "wait_catching_up" } : { do: "wait" };
  }
  if (s.role === "starting") {
    const waiting = s.lastRole === "secondary" && s.now - s.startedAt < s.startWaitMs;
    return waiting ? { do: "wait_at_start" } : { do: "promote" };
  }
  if (s.role === "secondary") {
    const lostAt = s.lostAt === 0 ? s.now : s.lostAt;
    if (s.refused || s.now - lostAt >= s.graceMs) return { do: "promote" };
    return { do: "wait", lostAt };
  }
  return { do: "wait" };
}
