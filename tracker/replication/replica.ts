/**
 * This tracker's copy of the replicated log: the state, what it persists
 * about its role (epoch, last role, catching up), and the two ways entries
 * arrive. As primary it appends them, persists and ships them in batches and
 * answers a client once its entry is committed; as secondary it follows the
 * primary's entries or adopts its snapshot.
 */
import { setImmediate } from "node:timers";
import type { LogEntry, Op, Result } from "../state/ops.ts";
import type { EpochRuns } from "../state/merge.ts";
import { type Session, type StateSnapshot, TrackerState } from "../state/state.ts";
import type { Store } from "../store/store.ts";

/** What the soft state beside the log (liveness, revocations) hears from the node. */
export interface NodeObserver {
  /** An entry was applied here, as primary, as secondary, or merged. */
  applied(entry: LogEntry, result: Result): void;
  /** The whole state was replaced (a snapshot adopted); entries before it were not seen. */
  reset(state: TrackerState): void;
  /** This tracker became primary. */
  promoted(): void;
  /** This tracker stopped being primary (it steps down or stops). */
  demoted?(): void;
  /** Whether a session's peer is alive (heard from lately); lookups and counts leave others out. */
  online(session: Session): boolean;
}

/** A write cannot be answered here: this tracker is not, or no longer, the primary. */
export class NotPrimary extends Error {
  constructor() {
    super("This tracker is not the primary");
    this.name = "NotPrimary";
  }
}

/** The wall clock in Unix ms with sub-millisecond precision, comparable across processes. */
const unixMs = () => performance.timeOrigin + performance.now();

/** Options for {@linkcode Replica}. */
export interface ReplicaOptions {
  store: Store;
  observer?: NodeObserver;
  /** Sends a flushed batch to the live secondary, or commits it at once when there is none. */
  ship(batch: LogEntry[]): void;
}

/** The state and log of one tracker. */
export class Replica {
  state: TrackerState;
  /** The highest epoch this tracker knows (persisted). */
  epoch: number;
  /** Entries up to here are safe: on both trackers, or on the primary alone while the other is down. */
  commitIndex: number;
  /** When the last op was applied here (Unix ms, sub-ms precision); null before the first. */
  appliedAt: number | null = null;
  #opts: ReplicaOptions;
  #store: Store;
  #syncing: boolean;
  #lastRole: string | null;
  #pending: LogEntry[] = [];
  #flushScheduled = false;
  #waiters: { index: number; resolve: () => void; reject: (e: Error) => void }[] = [];

  /** Loads the state from the store. */
  constructor(opts: ReplicaOptions) {
    this.#opts = opts;
    this.#store = opts.store;
    this.state = opts.store.load();
    this.epoch = Math.max(Number(opts.store.getMeta("epoch") ?? 0), this.state.epoch);
    this.#syncing = opts.store.getMeta("syncing") === "1";
    this.#lastRole = opts.store.getMeta("role") ?? null;
    this.commitIndex = this.state.index;
  }

  /** True while a catch-up is unfinished (persisted: a restart remembers it). */
  get syncing(): boolean {
    return this.#syncing;
  }

  /** The role persisted before this start, or since. */
  get lastRole(): string | null {
    return this.#lastRole;
  }

  /** Persists that a catch-up began or ended. */
  setSyncing(v: boolean): void {
    if (this.#syncing === v) return;
    this.#syncing = v;
    this.#store.setMeta("syncing", v ? "1" : "0");
  }

  /** Persists the role this tracker took. */
  setRole(role: "primary" | "secondary"): void {
    if (this.#lastRole === role) return;
    this.#lastRole = role;
    this.#store.setMeta("role", role);
  }

  /** Persists a higher epoch; a lower or equal one changes nothing. */
  raiseEpoch(epoch: number): void {
    if (epoch <= this.epoch) return;
    this.epoch = epoch;
    this.#store.setMeta("epoch", String(epoch));
  }

  /** Where each epoch of the log begins (the last entry alone after a snapshot). */
  runs(): EpochRuns {
    const runs = this.#store.epochRuns();
    if (runs.length === 0 && this.state.index > 0) return [[this.state.index, this.state.epoch]];
    return runs;
  }

  /** Appends an op to the log as primary: apply now, persist and ship at the next flush. */
  append(op: Op, reqId?: string): { entry: LogEntry; result: Result } {
    const entry: LogEntry = { index: this.state.index + 1, epoch: this.epoch, op };
    if (reqId !== undefined) entry.reqId = reqId;
    const result = this.state.apply(entry);
    this.#opts.observer?.applied(entry, result);
    this.appliedAt = unixMs();
    // Entries are persisted and shipped in batches, once per turn of the event
    // loop; no client is answered before its entry is flushed (see commit).
    this.#pending.push(entry);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.flush());
    }
    return { entry, result };
  }

  /** Persists the pending entries in one transaction and ships them. */
  flush(): void {
    this.#flushScheduled = false;
    if (this.#pending.length === 0) return;
    const batch = this.#pending.splice(0);
    this.#store.appendBatch(batch);
    this.#store.maybeCompact(this.state);
    this.#opts.ship(batch);
  }

  /** Resolves once entry `index` is committed; rejects with {@linkcode NotPrimary} on a step down. */
  commit(index: number): Promise<void> {
    if (this.commitIndex >= index) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ index, resolve, reject }));
  }

  /** Marks entries up to `index` committed and answers who waited for them. */
  advanceCommit(index: number): void {
    if (index <= this.commitIndex) return;
    this.commitIndex = index;
    if (this.#waiters.length === 0) return;
    const still = [];
    for (const w of this.#waiters) {
      if (w.index <= index) w.resolve();
      else still.push(w);
    }
    this.#waiters = still;
  }

  /** Fails every write waiting for its commit (this tracker steps down or stops). */
  abandonWaiters(): void {
    for (const w of this.#waiters.splice(0)) w.reject(new NotPrimary());
  }

  /** As secondary: applies and persists entries that follow on from the state's last. */
  follow(entries: LogEntry[]): void {
    for (const e of entries) {
      // Applied whether or not an observer listens (`?.` would skip the argument too).
      const result = this.state.apply(e);
      this.#opts.observer?.applied(e, result);
      this.raiseEpoch(e.epoch);
    }
    if (entries.length > 0) this.appliedAt = unixMs();
    this.#store.appendBatch(entries);
    this.#store.maybeCompact(this.state);
    this.commitIndex = this.state.index;
  }

  /** As secondary: replaces the state and the whole log with the primary's snapshot. */
  adopt(snap: StateSnapshot): void {
    this.state = TrackerState.fromSnapshot(snap);
    this.#opts.observer?.reset(this.state);
    this.appliedAt = unixMs();
    this.#store.writeSnapshot(this.state, true);
    this.raiseEpoch(this.state.epoch);
  }
}
