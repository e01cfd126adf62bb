/**
 * Merging the logs of a healed partition, as pure functions of the state.
 *
 * While the two trackers could not talk, each may have acknowledged writes
 * alone. When they meet again the one with the lower epoch steps down; the
 * entries of its log after the point where the two logs diverge (its solo
 * tail) are not dropped but re-applied on the other after its own, in their
 * order, each checked again against the merged state ({@linkcode check}). A
 * write that no longer holds is recorded as a `conflict` op instead.
 *
 * Every merged or refused entry is appended under an identity (the client's
 * request id, or the entry's own epoch and index) that lands in the dedup
 * table, so a merge sent twice applies once.
 */
import { check, type CheckContext, summarize } from "./merge_check.ts";
import { type ConflictOp, INTERNAL_OPS, type LogEntry, type Op, type Result } from "./ops.ts";
import type { TrackerState } from "./state.ts";

/** Runs of one epoch in a log: `[index of its first entry, epoch]`, in index order. */
export type EpochRuns = [number, number][];

/** The epoch of entry `index` by `runs` (whose last run ends at `last`); undefined outside. */
export function epochAt(runs: EpochRuns, last: number, index: number): number | undefined {
  if (index > last || runs.length === 0 || index < runs[0]![0]) return undefined;
  let lo = 0, hi = runs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (runs[mid]![0] <= index) lo = mid;
    else hi = mid - 1;
  }
  return runs[lo]![1];
}

/**
 * The index of the last entry two logs share (0: none). Entries with the same
 * index and epoch are the same entry, and so are all entries before them
 * (log matching). `mine(i)` and `theirs(i)` give the epoch of entry `i` in
 * each log, undefined where that log was compacted: such an entry counts as
 * shared (the log is only compacted far behind its end). `upTo` is the
 * shorter log's last index.
 */
export function divergence(
  upTo: number,
  logs: { mine(index: number): number | undefined; theirs(index: number): number | undefined },
): number {
  const shared = (i: number) => {
    if (i <= 0) return true;
    const a = logs.mine(i), b = logs.theirs(i);
    return a === undefined || b === undefined || a === b;
  };
  let lo = 0, hi = Math.max(0, upTo);
  while (lo < hi) {
    const mid = Math.floor((lo + hi + 1) / 2);
    if (shared(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The identity a merged entry is remembered by: its request id, or its epoch and index. */
export function entryId(e: LogEntry): string {
  return e.reqId ?? `merge:${e.epoch}:${e.index}`;
}

/**
 * The part of a solo tail worth sending: internal ops (epoch, grant key) are
 * left out, and so are writes that failed where they were made (`state` is
 * that side's state, which remembers their results). Conflicts it recorded
 * are kept.
 */
export function tailToSend(state: TrackerState, entries: LogEntry[]): LogEntry[] {
  return entries.filter((e) => {
    if (e.op.kind === "conflict") return true;
    if (INTERNAL_OPS.has(e.op.kind)) return false;
    return e.reqId === undefined || state.dedup(e.reqId)?.ok !== false;
  });
}

/** What a merge did with the entries it was given. */
export interface MergeCounts {
  /** Re-applied on this side. */
  merged: number;
  /** Refused and recorded as conflicts. */
  conflicts: number;
  /** Already here (same request id, or the entry itself), or internal. */
  skipped: number;
}

/** What a {@linkcode Merger} needs from the node. */
export interface MergerOptions {
  /** The tracker that wrote the tail. */
  from: number;
  /** The time recorded in conflicts (Unix ms). */
  now(): number;
  /** Appends `op` to this side's log under `reqId` and applies it; returns its result. */
  append(op: Op, reqId: string): Result;
  /** True when this side's own log holds the entry (it is already in the state). */
  holds?(e: LogEntry): boolean;
  /** Told of every conflict recorded. */
  conflict?(c: ConflictOp): void;
}

/**
 * Merges one solo tail, fed in order (possibly in several batches) into the
 * state the node's `append` changes.
 */
export class Merger {
  readonly counts: MergeCounts = { merged: 0, conflicts: 0, skipped: 0 };
  readonly #opts: MergerOptions;
  readonly #foreign = { users: new Set<string>(), groups: new Set<string>() };

  constructor(opts: MergerOptions) {
    this.#opts = opts;
  }

  /** Merges the next entries of the tail into `state`. */
  feed(state: TrackerState, entries: LogEntry[]): void {
    const ctx: CheckContext = {
      foreignUsers: this.#foreign.users,
      foreignGroups: this.#foreign.groups,
    };
    for (const e of entries) {
      const id = entryId(e);
      const op = e.op;
      if (
        (INTERNAL_OPS.has(op.kind) && op.kind !== "conflict") || state.dedup(id) !== undefined ||
        this.#opts.holds?.(e)
      ) {
        this.counts.skipped++;
      } else if (op.kind === "conflict") {
        // Recorded by the other side (merging its own tail earlier): carried over.
        this.#opts.append(op, id);
        this.counts.conflicts++;
      } else {
        const reason = check(state, op, ctx);
        const r = reason === null ? this.#opts.append(op, id) : null;
        if (r?.ok) this.counts.merged++;
        else this.#refuse(state, op, id, reason ?? (r as { error: string }).error);
      }
      // An id the other side created that this side had given to someone
      // else: later writes naming it meant the other account or group.
      if (op.kind === "create_user" || op.kind === "create_group") {
        if (state.dedup(id)?.ok === false) {
          if (op.kind === "create_user") this.#foreign.users.add(op.user);
          else this.#foreign.groups.add(op.group);
        }
      }
    }
  }

  #refuse(state: TrackerState, op: Op, id: string, reason: string): void {
    const c: ConflictOp = {
      kind: "conflict",
      from: this.#opts.from,
      summary: summarize(op, state),
      reason,
      at: this.#opts.now(),
    };
    if (!id.startsWith("merge:")) c.reqId = id;
    this.#opts.append(c, id);
    this.counts.conflicts++;
    this.#opts.conflict?.(c);
  }
}
