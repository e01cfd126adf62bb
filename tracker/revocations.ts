/**
 * Revocations: which grants stop being honoured, derived from the replicated
 * log so that both trackers know the same ones. A grant names the log index
 * it was issued at; a revocation at index `i` matching the grant's user,
 * group and name (each where given) voids every grant issued before `i`.
 * Serving peers learn them through `watch` within milliseconds and close
 * the connections they serve under a revoked grant. Pure: no clock, no I/O.
 */
import type { Revocation } from "../shared/grant.ts";
import type { LogEntry, Result } from "./ops.ts";
import type { TrackerState } from "./state.ts";

export type { Revocation };

/** Revocations kept for watchers that ask what they missed. */
export const REVOCATIONS_KEPT = 4096;
/** Revocations sent in one watch answer, at most. */
export const REVOCATIONS_PER_ANSWER = 512;

/** The revocations an applied entry makes (none for most). */
export function revocationsOf(entry: LogEntry, result: Result): Revocation[] {
  if (!result.ok) return [];
  const op = entry.op;
  const index = entry.index;
  switch (op.kind) {
    case "logout":
      return typeof result.data.user === "string" ? [{ index, user: result.data.user }] : [];
    case "leave_group":
      return result.data.deleted === true
        ? [{ index, group: op.group }]
        : [{ index, user: op.user, group: op.group }];
    case "stop_share":
      return result.data.removed === true ? [{ index, group: op.group, name: op.name }] : [];
    default:
      return [];
  }
}

/** What a watcher is told: the revocations after its index, and whether that is all of them. */
export interface RevocationAnswer {
  /** The index to ask from next time. */
  index: number;
  revocations: Revocation[];
  /**
   * Revocations before this index may be missing (the watcher asked from
   * before what this tracker kept): grants issued before it are void.
   */
  floor: number;
}

/** The recent revocations in log order. */
export class RevocationLog {
  #list: Revocation[] = [];
  /** Revocations at or before this index may have been missed or dropped. */
  #floor: number;
  /** The last log index applied. */
  #index: number;

  /** Starts observing after log index `index` (what came before is not known here). */
  constructor(index: number) {
    this.#floor = index;
    this.#index = index;
  }

  /** The last applied log index. */
  get index(): number {
    return this.#index;
  }

  /** The whole state was replaced at `index`: earlier revocations are unknown. */
  reset(index: number): void {
    this.#list = [];
    this.#floor = index;
    this.#index = index;
  }

  /** Records an applied entry; returns the revocations it made. */
  applied(entry: LogEntry, result: Result): Revocation[] {
    this.#index = entry.index;
    const made = revocationsOf(entry, result);
    for (const r of made) this.#list.push(r);
    if (this.#list.length > REVOCATIONS_KEPT) {
      const cut = this.#list.length - REVOCATIONS_KEPT;
      this.#floor = this.#list[cut - 1]!.index;
      this.#list.splice(0, cut);
    }
    return made;
  }

  /** The revocations after `since` that `user` (a watcher) needs to know, as `state` stands. */
  since(since: number, user: string, state: TrackerState): RevocationAnswer {
    const out: Revocation[] = [];
    let index = this.#index;
    for (const r of this.#list) {
      if (r.index <= since || !concerns(r, user, state)) continue;
      if (out.length === REVOCATIONS_PER_ANSWER) {
        index = out[out.length - 1]!.index;
        break;
      }
      out.push(r);
    }
    return { index, revocations: out, floor: since < this.#floor ? this.#floor : 0 };
  }
}

/** A watcher hears of revocations in its own groups, and of logouts of users it shares one with. */
function concerns(r: Revocation, watcher: string, state: TrackerState): boolean {
  if (r.group !== undefined) {
    // A deleted group has no members left to ask; its revocation goes to everyone.
    const g = state.groups.get(r.group);
    return g === undefined || g.members.includes(watcher);
  }
  if (r.user === undefined) return false;
  for (const g of state.groups.values()) {
    if (g.members.includes(watcher) && g.members.includes(r.user)) return true;
  }
  return false;
}
