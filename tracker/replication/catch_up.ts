/**
 * Catch-up of a secondary, as pure functions: how the primary answers a
 * `sync` (from its log or with a snapshot, and where the two logs diverged),
 * and which entries a secondary applies from a batch. The node reads the
 * store and sends what these decide (catch_up_serve.ts).
 */
import { divergence, epochAt, type EpochRuns } from "../state/merge.ts";
import type { LogEntry } from "../state/ops.ts";
import { LinkMessageError } from "./wire_checks.ts";

/** What a secondary said in its `sync`. */
export interface SyncRequest {
  /** Index of its last entry. */
  index: number;
  /** Epoch of its last entry. */
  lastEpoch: number;
  /** Where each epoch of its log begins (absent from older trackers). */
  runs?: EpochRuns;
}

/** What the primary knows of its own log. */
export interface LogView {
  /** Index of its last entry (its state's). */
  index: number;
  /** Epoch of its last entry. */
  epoch: number;
  /** Index of the oldest entry its store still holds (0: none). */
  firstIndex: number;
  /** Epoch of entry `i` as its store holds it, undefined once compacted. */
  epochOf(i: number): number | undefined;
}

/**
 * How to catch a secondary up: send the log after `from`, or the whole state
 * as a snapshot (`divergedAt`: the last entry both logs share, when the
 * secondary's log goes on past it with writes it made alone).
 */
export type CatchUpPlan = { how: "log"; from: number } | { how: "snapshot"; divergedAt?: number };

/**
 * Decides a catch-up. The log serves when it holds the secondary's last
 * entry with the same epoch (so everything before matches too) and the entry
 * after it; otherwise a snapshot, with where the logs diverged.
 */
export function planCatchUp(req: SyncRequest, log: LogView): CatchUpPlan {
  const { index, lastEpoch } = req;
  let fromLog = false;
  if (index <= log.index) {
    if (index === 0) fromLog = log.index === 0 || log.firstIndex === 1;
    else {
      fromLog = log.epochOf(index) === lastEpoch &&
        (index === log.index || log.epochOf(index + 1) !== undefined);
    }
  }
  if (fromLog) return { how: "log", from: index };
  const d = req.runs ? divergedAt(req.index, req.runs, log) : index;
  return d < index ? { how: "snapshot", divergedAt: d } : { how: "snapshot" };
}

/** The last index the primary's log shares with a secondary's whose epochs begin at `runs`. */
function divergedAt(index: number, runs: EpochRuns, log: LogView): number {
  return divergence(Math.min(index, log.index), {
    mine: (i) => i === log.index ? log.epoch : log.epochOf(i),
    theirs: (i) => epochAt(runs, index, i),
  });
}

/**
 * The entries of a batch a secondary at `index` has yet to apply: those
 * after it, which must follow on without a gap (a gap throws
 * {@linkcode LinkMessageError}: the link restarts and catches up again).
 */
export function entriesAfter(index: number, entries: readonly LogEntry[]): LogEntry[] {
  const fresh: LogEntry[] = [];
  let at = index;
  for (const e of entries) {
    if (e.index <= at) continue;
    if (e.index !== at + 1) {
      throw new LinkMessageError(`Gap in the log: got ${e.index} after ${at}`);
    }
    fresh.push(e);
    at = e.index;
  }
  return fresh;
}
