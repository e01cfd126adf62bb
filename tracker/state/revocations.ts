/**
 * Revocations: which grants stop being honoured, derived from the replicated
 * log so that both trackers know the same ones. A grant names the log
 * position it was issued at (epoch and index); a revocation at a later
 * position matching the grant's user, group and name (each where given)
 * voids it. Serving peers learn them through `watch` within milliseconds and close
 * the connections they serve under a revoked grant. Pure: no clock, no I/O.
 */
import type { Revocation } from "../../shared/grant.ts";
import type { LogEntry, Result } from "./ops.ts";

export type { Revocation };

/** Revocations kept for watchers that ask what they missed. */
export const REVOCATIONS_KEPT = 4096;
/** Revocations sent in one watch answer, at most. */
export const REVOCATIONS_PER_ANSWER = 512;
/** Epoch runs kept to recognise a watcher's position (one per promotion). */
const RUNS_KEPT = 1024;

/** The revocations an applied entry makes (none for most). */
export function revocationsOf(entry: LogEntry, result: Result): Revocation[] {
  if (!result.ok) return [];
  const op = entry.op;
  const at = { index: entry.index, ep: entry.epoch };
  switch (op.kind) {
    case "logout":
      return typeof result.data.user === "string" ? [{ ...at, user: result.data.user }] : [];
    case "leave_group":
      return result.data.deleted === true
        ? [{ ...at, group: op.group }]
        : [{ ...at, user: op.user, group: op.group }];
    case "stop_share":
      return result.data.removed === true ? [{ ...at, group: op.group, name: op.name }] : [];
    default:
      return [];
  }
}

/** What a watcher is told: the revocations after its position, and whether that is all of them. */
export interface RevocationAnswer {
  /** The position to ask from next time: index, and the epoch of the entry there. */
  index: number;
  epoch: number;
  revocations: Revocation[];
  /**
   * 0, or the position (`floorEp`, `floor`) before which revocations may be
   * missing here (the watcher's position is from before what this tracker
   * kept, or from another history): grants issued before it are void.
   */
  floor: number;
  floorEp: number;
}

/**
 * The recent revocations in log order, and the epoch runs of the log, so
 * that a watcher's position (which may come from the other tracker, or from
 * entries a dead primary never committed) is recognised or not.
 */
export class RevocationLog {
  #list: Revocation[] = [];
  /** Revocations at or before this position may have been missed or dropped. */
  #floor = { index: 0, ep: 0 };
  /** [first index, epoch] of each run of entries of one epoch, oldest first. */
  #runs: [number, number][] = [[0, 0]];
  #index = 0;
  #epoch = 0;

  /** The last applied log index. */
  get index(): number {
    return this.#index;
  }

  /** The whole state was replaced at `index` (`epoch`): earlier revocations are unknown. */
  reset(index: number, epoch: number): void {
    this.#list = [];
    this.#floor = { index, ep: epoch };
    this.#runs = [[index, epoch]];
    this.#index = index;
    this.#epoch = epoch;
  }

  /** Records an applied entry; returns the revocations it made. */
  applied(entry: LogEntry, result: Result): Revocation[] {
    this.#index = entry.index;
    if (entry.epoch !== this.#epoch) {
      this.#epoch = entry.epoch;
      this.#runs.push([entry.index, entry.epoch]);
      if (this.#runs.length > RUNS_KEPT) this.#runs.shift();
    }
    const made = revocationsOf(entry, result);
    for (const r of made) this.#list.push(r);
    if (this.#list.length > REVOCATIONS_KEPT) {
      const cut = this.#list.length - REVOCATIONS_KEPT;
      const last = this.#list[cut - 1]!;
      this.#floor = { index: last.index, ep: last.ep ?? 0 };
      this.#list.splice(0, cut);
    }
    return made;
  }

  /** The epoch of the entry at `index` in this log, if this log knows it. */
  #epochAt(index: number): number | undefined {
    if (index > this.#index) return undefined;
    for (let k = this.#runs.length - 1; k >= 0; k--) {
      const [first, epoch] = this.#runs[k]!;
      if (first <= index) return epoch;
    }
    return undefined;
  }

  /**
   * The revocations after position (`sinceEp`, `since`); -1 at a watcher's
   * start. A position this log does not hold (another history) counts as -1.
   * Every watcher hears of every revocation: they are small, and a peer may
   * serve a group tomorrow that it is not in today.
   */
  since(since: number, sinceEp: number): RevocationAnswer {
    if (since >= 0 && this.#epochAt(since) !== sinceEp) since = -1;
    const out: Revocation[] = [];
    let index = this.#index;
    let epoch = this.#epoch;
    for (const r of this.#list) {
      if (r.index <= since) continue;
      if (out.length === REVOCATIONS_PER_ANSWER) {
        const last = out[out.length - 1]!;
        index = last.index;
        epoch = last.ep ?? 0;
        break;
      }
      out.push(r);
    }
    const missed = since < this.#floor.index;
    return {
      index,
      epoch,
      revocations: out,
      floor: missed ? this.#floor.index : 0,
      floorEp: missed ? this.#floor.ep : 0,
    };
  }
}
