/**
 * The link messages of a partition merge, checked on arrival: the epoch runs
 * of a `sync` and the entries of a `merge` (and of the kept tail read back
 * from the store). A malformed field is a {@linkcode MergeMessageError} (the
 * link closes with it), never a crash or a bad op in the log.
 */
import type { LogEntry, Op } from "../state/ops.ts";
import type { EpochRuns } from "../state/merge.ts";
import { checkEntries, checkOp, isIndex, LinkMessageError } from "./wire_checks.ts";

/** Most epoch runs a `sync` may carry. */
export const MAX_RUNS = 100_000;

/** A `sync` or `merge` message of the tracker link is malformed. */
export class MergeMessageError extends LinkMessageError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MergeMessageError";
  }
}

/** Runs `check`, turning its {@linkcode LinkMessageError} into a {@linkcode MergeMessageError}. */
function asMerge<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (!(err instanceof LinkMessageError) || err instanceof MergeMessageError) throw err;
    throw new MergeMessageError(`Merge: ${err.message}`, { cause: err });
  }
}

/** Checks an op of a merge; throws {@linkcode MergeMessageError}. */
export function parseOp(v: unknown): Op {
  return asMerge(() => checkOp(v));
}

/** Checks the entries of a `merge` message or a kept tail; throws {@linkcode MergeMessageError}. */
export function parseTail(v: unknown): LogEntry[] {
  return asMerge(() => checkEntries(v));
}

/**
 * Checks the epoch runs of a `sync` message (absent from older trackers:
 * undefined). Runs must start at increasing indexes within the sender's last
 * index `last`.
 */
export function parseRuns(v: unknown, last: number): EpochRuns | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length > MAX_RUNS) {
    throw new MergeMessageError("Sync message with malformed epoch runs");
  }
  const runs: EpochRuns = [];
  let prev = 0;
  for (const r of v) {
    if (
      !Array.isArray(r) || r.length !== 2 || !isIndex(r[0]) || !isIndex(r[1]) || r[0] <= prev ||
      r[0] > last
    ) {
      throw new MergeMessageError("Sync message with malformed epoch runs");
    }
    prev = r[0];
    runs.push([r[0], r[1]]);
  }
  return runs;
}
