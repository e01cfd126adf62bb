/**
 * The tracker's soft state about peers, beside the replicated log: which
 * sessions are alive ({@linkcode Liveness}) and which grants are revoked
 * ({@linkcode RevocationLog}), and the `watch` requests that peers hold open
 * to keep their session alive and to hear of revocations at once. The node
 * feeds it every applied entry (as primary and as secondary) through
 * {@linkcode NodeObserver}; the server asks it about watches.
 */
import type { NodeObserver } from "../replication/node.ts";
import type { LogEntry, Result } from "../state/ops.ts";
import { MAX_KEEPALIVE_MS, MIN_KEEPALIVE_MS } from "../../shared/constants.ts";
import { Liveness } from "../state/liveness.ts";
import { type RevocationAnswer, RevocationLog } from "../state/revocations.ts";
import type { Session, TrackerState } from "../state/state.ts";

/** The longest a watch is held before it is answered with nothing new. */
export const MAX_WATCH_HOLD_MS = 2000;

/** A watch's arguments, checked. */
export interface WatchArgs {
  /** The last position the watcher has heard of: index (-1 at its start) and its epoch. */
  since: number;
  sinceEpoch: number;
  /** Its keepalive interval: it is offline after three of them without a word. */
  intervalMs: number;
}

/** Checks a watch request's arguments: the arguments, or why they are refused. */
export function parseWatchArgs(args: Record<string, unknown>): WatchArgs | string {
  const { since, interval } = args;
  const epoch = args.epoch ?? 0;
  if (typeof since !== "number" || !Number.isSafeInteger(since) || since < -1) {
    return "argument since must be an integer of at least -1";
  }
  if (typeof epoch !== "number" || !Number.isSafeInteger(epoch) || epoch < 0) {
    return "argument epoch must be a whole number";
  }
  if (
    typeof interval !== "number" || !Number.isSafeInteger(interval) ||
    interval < MIN_KEEPALIVE_MS || interval > MAX_KEEPALIVE_MS
  ) {
    return `argument interval must be an integer from ${MIN_KEEPALIVE_MS} to ${MAX_KEEPALIVE_MS}`;
  }
  return { since, sinceEpoch: epoch, intervalMs: interval };
}

interface Held {
  wake: () => void;
}

/** Liveness, revocations and held watches of one tracker. */
export class Presence implements NodeObserver {
  readonly liveness = new Liveness();
  readonly revocations: RevocationLog;
  #state: () => TrackerState;
  #now: () => number;
  #held = new Map<string, Held>();

  /**
   * `state` is the node's current state (it is replaced on a snapshot);
   * `now` a monotonic clock in ms. Call {@linkcode reset} with the state
   * loaded at start before any entry is applied.
   */
  constructor(state: () => TrackerState, now: () => number) {
    this.#state = state;
    this.#now = now;
    this.revocations = new RevocationLog();
  }

  applied(entry: LogEntry, result: Result): void {
    const op = entry.op;
    if (result.ok) {
      if (op.kind === "login") {
        this.liveness.heard(op.token, this.#now());
        // A new login replaces the user's old session without a logout: prune now and then.
        const sessions = this.#state().sessions;
        if (this.liveness.size > 2 * sessions.size + 64) {
          this.liveness.prune((t) => sessions.has(t));
        }
      }
      if (op.kind === "logout") {
        this.liveness.forget(op.token);
        this.#held.get(op.token)?.wake();
      }
    }
    if (this.revocations.applied(entry, result).length > 0) {
      for (const h of this.#held.values()) h.wake();
    }
  }

  reset(state: TrackerState): void {
    this.revocations.reset(state.index, state.epoch);
  }

  demoted(): void {
    this.wakeAll();
  }

  promoted(): void {
    this.liveness.graceAll(this.#state().sessions.keys(), this.#now());
  }

  online(session: Session): boolean {
    return this.liveness.online(session.token, this.#now());
  }

  /** A request with this token arrived: its session is alive (if it is one). */
  heard(token: unknown, intervalMs?: number): void {
    if (typeof token !== "string" || !this.#state().session(token)) return;
    this.liveness.heard(token, this.#now(), intervalMs);
  }

  /** The connection that carried this session's watches closed. */
  lost(token: string): void {
    this.liveness.lost(token, this.#now());
    this.#held.get(token)?.wake();
  }

  /**
   * Answers a watch: at once when there are revocations after its position,
   * else when one comes or after the hold (half an interval). A second
   * watch of the same session answers the first at once.
   */
  async watch(token: string, args: WatchArgs): Promise<RevocationAnswer> {
    this.liveness.heard(token, this.#now(), args.intervalMs);
    const answer = () => this.revocations.since(args.since, args.sinceEpoch);
    const first = answer();
    if (first.revocations.length > 0 || first.floor > 0 || args.since < 0) return first;
    this.#held.get(token)?.wake();
    // Held for half an interval, so a live peer is heard twice per interval and a
    // silent one is offline 2.5 to 3 intervals after the last word it could send.
    const hold = Math.min(args.intervalMs / 2, MAX_WATCH_HOLD_MS);
    const { promise, resolve } = Promise.withResolvers<void>();
    const timer = setTimeout(resolve, hold);
    const held: Held = { wake: resolve };
    this.#held.set(token, held);
    try {
      await promise;
    } finally {
      clearTimeout(timer);
      if (this.#held.get(token) === held) this.#held.delete(token);
    }
    return answer();
  }

  /** Sessions online now (for the console). */
  onlineCount(): number {
    return this.liveness.onlineCount(this.#now());
  }

  /** Wakes every held watch (the tracker stops or steps down). */
  wakeAll(): void {
    for (const h of this.#held.values()) h.wake();
  }
}
