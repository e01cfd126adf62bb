/**
 * One tracker of the pair: its role (primary or secondary), the replicated
 * write path and the link to the other tracker. The state itself is the pure
 * {@linkcode TrackerState}; this class decides who writes, persists, ships ops
 * and answers clients only once an op is safe on both trackers (or on the
 * primary alone while the other is down).
 */
import { setImmediate } from "node:timers";
import type { Message } from "../../shared/frame.ts";
import { newGrantKeyPair } from "../../shared/grant.ts";
import { ConnectionError, describeError } from "../../shared/errors.ts";
import { log } from "../../shared/log.ts";
import { type Endpoint, formatEndpoint } from "../../shared/tracker_info.ts";
import { propose, query, READ_COMMANDS, type Request } from "../state/commands.ts";
import type { Link } from "./link.ts";
import { type ActiveLink, LinkManager } from "./link_manager.ts";
import { divergence, epochAt, type EpochRuns, Merger } from "../state/merge.ts";
import { KeptTail } from "./merge_tail.ts";
import { MergeMessageError, parseRuns, parseTail } from "./merge_wire.ts";
import type { LogEntry, Op, Result } from "../state/ops.ts";
import { BadPassword, GrantSigner, parseRequest, prepareEnv, replyTo } from "../server/requests.ts";
import { type Session, type StateSnapshot, TrackerState } from "../state/state.ts";
import type { Store } from "../store/store.ts";
import { nextEpoch, parseView, type Role, shouldLead, type TrackerView } from "./roles.ts";

const logger = log("tracker", "replication");

/** Entries sent in one frame while a secondary catches up. */
const CATCH_UP_BATCH = 500;
/** A tracker that was secondary waits this many grace periods at start for the other. */
export const START_WAIT_GRACES = 10;

/** Options for {@linkcode TrackerNode}. */
export interface NodeOptions {
  n: 1 | 2;
  trackers: [Endpoint, Endpoint];
  store: Store;
  key: CryptoKey;
  /** Heartbeat interval on the tracker link; three missed mean the other is dead. */
  heartbeatMs: number;
  /** How long a secondary waits for a dropped link to come back before it promotes itself. */
  graceMs: number;
  /** Told of every entry applied here and of role changes (soft state kept beside the log). */
  observer?: NodeObserver;
}

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

class NotPrimary extends Error {}

/** The wall clock in Unix ms with sub-millisecond precision, comparable across processes. */
const unixMs = () => performance.timeOrigin + performance.now();

/** A tracker of the replicated pair. */
export class TrackerNode {
  readonly n: 1 | 2;
  role: Role = "starting";
  epoch: number;
  state: TrackerState;
  #opts: NodeOptions;
  #store: Store;
  #commitIndex: number;
  #waiters: { index: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  #links: LinkManager;
  #lostAt = 0;
  #syncing: boolean;
  #signer = new GrantSigner();
  /** The role persisted before this start. */
  #lastRole: string | null;
  #startedAt = Date.now();
  #waitLogged = false;
  #pending: LogEntry[] = [];
  #flushScheduled = false;
  /** When the last op was applied here (Unix ms, sub-ms precision); null before the first. */
  #appliedAt: number | null = null;
  /** Writes this tracker made alone before it stepped down, until the primary merged them. */
  #tail: KeptTail;
  /** Primary: the merge in progress on each link. */
  #mergers = new WeakMap<ActiveLink, Merger>();

  constructor(opts: NodeOptions) {
    this.#opts = opts;
    this.n = opts.n;
    this.#store = opts.store;
    this.state = opts.store.load();
    this.epoch = Math.max(Number(opts.store.getMeta("epoch") ?? 0), this.state.epoch);
    this.#syncing = opts.store.getMeta("syncing") === "1";
    this.#lastRole = opts.store.getMeta("role") ?? null;
    this.#commitIndex = this.state.index;
    this.#tail = new KeptTail(opts.store);
    this.#links = new LinkManager({
      me: opts.n,
      other: opts.trackers[2 - opts.n]!,
      key: opts.key,
      heartbeatMs: opts.heartbeatMs,
      // A dial that hangs (the other silently unreachable) must not outlast the grace period.
      dialTimeoutMs: Math.max(50, Math.min(1000, opts.graceMs / 2)),
    }, {
      view: () => this.#view(),
      fastDial: () => this.role === "secondary" && this.#lostAt > 0,
      message: (l, msg) => this.#onLinkMessage(l, msg),
      lost: (l, replaced) => this.#linkLost(l, replaced),
      dialFailed: (err) => this.#dialFailed(err),
    });
  }

  /** Starts looking for the other tracker; the role is settled from there. */
  start(): void {
    this.#links.start();
  }

  /** Stops dialing and closes the link. */
  async stop(): Promise<void> {
    this.#flush();
    this.#opts.observer?.demoted?.();
    for (const w of this.#waiters.splice(0)) w.reject(new NotPrimary());
    await this.#links.stop();
  }

  /** Forces this tracker to become primary (operator override, e.g. after a lost catch-up). */
  forcePromote(): void {
    if (this.role === "primary") return;
    this.#setSyncing(false);
    this.#promote(this.#links.current?.other?.epoch ?? 0);
    this.#links.current?.conn.close();
  }

  /** A summary for the console and for tests. */
  status(): Record<string, unknown> {
    const l = this.#links.current;
    return {
      tracker: this.n,
      role: this.role,
      epoch: this.epoch,
      index: this.state.index,
      appliedAt: this.#appliedAt,
      commitIndex: this.#commitIndex,
      catchingUp: this.#syncing,
      conflicts: this.state.conflicts.map((c) => ({ ...c })),
      mergePending: this.#tail.size,
      other: l?.other
        ? {
          connected: true,
          role: l.other.role,
          epoch: l.other.epoch,
          index: l.other.index,
          live: l.followerLive || (l.established && this.role === "secondary"),
        }
        : { connected: false },
    };
  }

  /** Answers one client request message (`{t:"req", id, cmd, args, token}`). */
  async handleRequest(msg: Message): Promise<Message> {
    const parsed = parseRequest(msg);
    if ("refuse" in parsed) return parsed.refuse;
    const { id, req } = parsed;
    if (this.role !== "primary") return this.#notPrimary(id);
    try {
      let r: Result;
      if (READ_COMMANDS.has(req.cmd)) {
        await this.#commit(this.state.index);
        r = query(this.state, req, this.#opts.observer);
      } else {
        r = await this.#write(req, id);
      }
      const decorated = await this.#signer.decorate(this.state, req, r);
      if (!decorated) throw new NotPrimary();
      return replyTo(id, decorated);
    } catch (err) {
      if (err instanceof NotPrimary) return this.#notPrimary(id);
      if (err instanceof BadPassword) return replyTo(id, { ok: false, error: err.message });
      throw err;
    }
  }

  async #ensureGrantKey(): Promise<void> {
    if (this.state.grantKey || this.role !== "primary") return;
    const kp = await newGrantKeyPair();
    if (this.state.grantKey || this.role !== "primary") return;
    this.#append({ kind: "set_grant_key", ...kp });
  }

  #notPrimary(id: string): Message {
    if (this.role === "secondary") {
      return {
        t: "res",
        id,
        ok: false,
        code: "not_primary",
        error: "this tracker is the secondary",
        primary: formatEndpoint(this.#opts.trackers[2 - this.n]!),
      };
    }
    return { t: "res", id, ok: false, code: "unavailable", error: "this tracker is not ready" };
  }

  async #write(req: Request, reqId: string): Promise<Result> {
    const seen = this.state.dedup(reqId);
    if (seen) {
      await this.#commit(this.state.index);
      return seen;
    }
    const env = await prepareEnv(this.state, req);
    if (this.role !== "primary") throw new NotPrimary();
    const again = this.state.dedup(reqId);
    if (again) {
      await this.#commit(this.state.index);
      return again;
    }
    const p = propose(this.state, req, env);
    if ("result" in p) return p.result;
    const { entry, result } = this.#append(p.op, reqId);
    await this.#commit(entry.index);
    return result;
  }

  /** Appends an op to the log as primary: persist, apply, ship. */
  #append(op: Op, reqId?: string): { entry: LogEntry; result: Result } {
    const entry: LogEntry = { index: this.state.index + 1, epoch: this.epoch, op };
    if (reqId !== undefined) entry.reqId = reqId;
    const result = this.state.apply(entry);
    this.#opts.observer?.applied(entry, result);
    this.#appliedAt = unixMs();
    // Entries are persisted and shipped in batches, once per turn of the event
    // loop; no client is answered before its entry is flushed (see #commit).
    this.#pending.push(entry);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
    return { entry, result };
  }

  /** Persists the pending entries in one transaction and ships them in one frame. */
  #flush(): void {
    this.#flushScheduled = false;
    if (this.#pending.length === 0) return;
    const batch = this.#pending.splice(0);
    this.#store.appendBatch(batch);
    this.#store.maybeCompact(this.state);
    const l = this.#links.current;
    if (l?.followerLive && this.role === "primary") {
      l.conn.send({ t: "entries", entries: batch }).catch(() => {});
    } else if (this.role === "primary") {
      this.#advanceCommit(batch[batch.length - 1]!.index);
    }
  }

  #commit(index: number): Promise<void> {
    if (this.#commitIndex >= index) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ index, resolve, reject }));
  }

  #advanceCommit(index: number): void {
    if (index <= this.#commitIndex) return;
    this.#commitIndex = index;
    if (this.#waiters.length === 0) return;
    const still = [];
    for (const w of this.#waiters) {
      if (w.index <= index) w.resolve();
      else still.push(w);
    }
    this.#waiters = still;
  }

  #promote(otherEpoch: number): void {
    this.epoch = nextEpoch(Math.max(this.epoch, otherEpoch, this.state.epoch), this.n);
    this.#store.setMeta("epoch", String(this.epoch));
    this.role = "primary";
    this.#setRole("primary");
    this.#lostAt = 0;
    logger.warn("Tracker {n} is now primary (epoch {epoch})", { n: this.n, epoch: this.epoch });
    this.#opts.observer?.promoted();
    this.#append({ kind: "epoch", epoch: this.epoch, tracker: this.n });
    if (this.#tail.size > 0) this.#mergeOwnTail();
    this.#ensureGrantKey().catch((err) =>
      logger.error("Cannot make the grant key: {error}", { error: describeError(err) })
    );
  }

  #stepDown(): void {
    this.#flush();
    logger.warn("Tracker {n} steps down to secondary (epoch {epoch})", {
      n: this.n,
      epoch: this.epoch,
    });
    this.role = "secondary";
    this.#opts.observer?.demoted?.();
    for (const w of this.#waiters.splice(0)) w.reject(new NotPrimary());
  }

  #setSyncing(v: boolean): void {
    if (this.#syncing === v) return;
    this.#syncing = v;
    this.#store.setMeta("syncing", v ? "1" : "0");
  }

  #setRole(role: "primary" | "secondary"): void {
    if (this.#lastRole === role) return;
    this.#lastRole = role;
    this.#store.setMeta("role", role);
  }

  #raiseEpoch(epoch: number): void {
    if (epoch <= this.epoch) return;
    this.epoch = epoch;
    this.#store.setMeta("epoch", String(epoch));
  }

  #view(): TrackerView {
    return {
      n: this.n,
      role: this.role,
      epoch: this.epoch,
      index: this.state.index,
      lastEpoch: this.state.epoch,
    };
  }

  // ---- the link ----

  /** Takes an authenticated link accepted by the server into use. */
  adoptLink(link: Link): void {
    this.#links.adopt(link);
  }

  #dialFailed(err: unknown): void {
    const refused = err instanceof ConnectionError &&
      err.cause instanceof Deno.errors.ConnectionRefused;
    logger.debug("Cannot reach the other tracker: {error}", { error: describeError(err) });
    if (this.#links.current || this.#syncing) {
      if (this.#syncing && this.role !== "primary") {
        logger.warn(
          "Tracker {n} was catching up when the link dropped; it waits for the other tracker (console: promote)",
          { n: this.n },
        );
      }
      return;
    }
    if (this.role === "starting") {
      // A tracker that was secondary may lack writes the primary acknowledged
      // alone after the link dropped: it gives the other a while to come back.
      const wait = START_WAIT_GRACES * this.#opts.graceMs;
      if (this.#lastRole === "secondary" && Date.now() - this.#startedAt < wait) {
        if (!this.#waitLogged) {
          this.#waitLogged = true;
          logger.warn(
            "Tracker {n} was secondary: waiting up to {ms} ms for the other tracker before taking over",
            { n: this.n, ms: wait },
          );
        }
        return;
      }
      this.#promote(0);
    } else if (this.role === "secondary") {
      if (this.#lostAt === 0) this.#lostAt = Date.now();
      if (refused || Date.now() - this.#lostAt >= this.#opts.graceMs) this.#promote(0);
    }
  }

  #linkLost(l: ActiveLink, replaced = false): void {
    if (replaced) logger.debug("Duplicate link replaced by the one tracker 1 dialed");
    else logger.warn("Link to tracker {other} lost", { other: 3 - this.n });
    if (this.role === "primary") {
      if (l.followerLive) logger.warn("Secondary gone: primary carries on alone");
      this.#advanceCommit(this.state.index);
    } else if (this.role === "secondary") {
      this.#lostAt = Date.now();
    }
    this.#links.wake();
  }

  #onLinkMessage(l: ActiveLink, msg: Message): void {
    switch (msg.t) {
      case "state":
        return this.#onState(l, parseView(msg));
      case "hb": {
        const v = parseView(msg);
        l.other = v;
        if (!l.established) return;
        const consistent = (this.role === "primary" && v.role === "secondary") ||
          (this.role === "secondary" && v.role === "primary");
        if (!consistent || v.epoch > this.epoch && this.role === "primary") {
          logger.warn("Roles disagree (me {me}, other {other}): renegotiating", {
            me: this.role,
            other: v.role,
          });
          l.conn.close();
        }
        return;
      }
      case "sync":
        if (this.role !== "primary") throw new Error("sync request received while not primary");
        return this.#serveSync(l, msg);
      case "ack":
        if (this.role === "primary" && l.followerLive) {
          const idx = Number(msg.index);
          if (idx > l.acked) l.acked = idx;
          this.#advanceCommit(Math.min(l.acked, this.state.index));
        }
        return;
      case "op":
        return this.#follow(l, [msg.e as LogEntry]);
      case "entries":
        return this.#follow(l, msg.entries as LogEntry[]);
      case "snapshot": {
        if (this.role !== "secondary") throw new Error("snapshot received while not secondary");
        const snap = msg.snap as StateSnapshot;
        if (msg.divergedAt !== undefined) this.#keepTail(msg.divergedAt);
        logger.warn("Adopting the primary's snapshot at index {index} (local index {local})", {
          index: snap.index,
          local: this.state.index,
        });
        this.state = TrackerState.fromSnapshot(snap);
        this.#opts.observer?.reset(this.state);
        this.#appliedAt = unixMs();
        this.#store.writeSnapshot(this.state, true);
        this.#raiseEpoch(this.state.epoch);
        l.conn.send({ t: "ack", index: this.state.index }).catch(() => {});
        return;
      }
      case "synced":
        if (this.role !== "secondary") throw new Error("synced received while not secondary");
        this.#setSyncing(false);
        l.established = true;
        logger.info("Caught up with the primary at index {index}", { index: this.state.index });
        this.#sendTail(l);
        return;
      case "merge":
        return this.#onMerge(l, msg);
      case "merged":
        return this.#onMerged(msg);
      default:
        throw new Error(`unknown link message ${msg.t}`);
    }
  }

  #onState(l: ActiveLink, other: TrackerView): void {
    l.other = other;
    if (shouldLead(this.#view(), other)) {
      if (this.role !== "primary") this.#promote(other.epoch);
      return; // the other follows and sends sync
    }
    if (this.role === "primary") this.#stepDown();
    this.role = "secondary";
    this.#setRole("secondary");
    this.#raiseEpoch(other.epoch);
    this.#setSyncing(true);
    this.#flush();
    l.conn.send({
      t: "sync",
      index: this.state.index,
      lastEpoch: this.state.epoch,
      runs: this.#runs(),
    }).catch(() => {});
  }

  /** Where each epoch of this tracker's log begins (the last entry alone after a snapshot). */
  #runs(): EpochRuns {
    const runs = this.#store.epochRuns();
    if (runs.length === 0 && this.state.index > 0) return [[this.state.index, this.state.epoch]];
    return runs;
  }

  #serveSync(l: ActiveLink, msg: Message): void {
    const index = Number(msg.index), lastEpoch = Number(msg.lastEpoch);
    this.#flush();
    const st = this.state;
    const runs = Number.isSafeInteger(index) && index >= 0 ? parseRuns(msg.runs, index) : undefined;
    let fromLog = false;
    if (Number.isInteger(index) && index >= 0 && index <= st.index) {
      if (index === st.index && index === 0) fromLog = true;
      else if (index === 0) fromLog = this.#store.firstIndex() === 1;
      else {
        const e = this.#store.entry(index);
        fromLog = e !== undefined && e.epoch === lastEpoch &&
          (index === st.index || this.#store.entry(index + 1) !== undefined);
      }
    }
    if (fromLog) {
      for (let from = index; from < st.index;) {
        const batch = this.#store.entriesAfter(from, CATCH_UP_BATCH);
        if (batch.length === 0) break;
        l.conn.send({ t: "entries", entries: batch }).catch(() => {});
        from = batch[batch.length - 1]!.index;
      }
      l.acked = index;
    } else {
      // A secondary whose log goes on past the last entry both logs share
      // holds writes it made alone: it is told where, to merge them.
      const d = runs ? this.#divergence(index, runs) : index;
      const snapshot: Message = { t: "snapshot", snap: st.toSnapshot() };
      if (d < index) snapshot.divergedAt = d;
      l.conn.send(snapshot).catch(() => {});
      l.acked = 0;
      if (d < index) {
        logger.warn(
          "The logs diverged after index {d}: tracker {other} has {count} entries of its own",
          {
            d,
            other: 3 - this.n,
            count: index - d,
          },
        );
      }
    }
    l.followerLive = true;
    l.established = true;
    l.conn.send({ t: "synced", index: st.index }).catch(() => {});
    logger.info("Secondary catching up from index {index} by {how}", {
      index,
      how: fromLog ? "log" : "snapshot",
    });
  }

  /** The last index this log shares with a secondary's whose epochs begin at `runs`. */
  #divergence(index: number, runs: EpochRuns): number {
    const st = this.state;
    return divergence(Math.min(index, st.index), {
      mine: (i) => i === st.index ? st.epoch : this.#store.entry(i)?.epoch,
      theirs: (i) => epochAt(runs, index, i),
    });
  }

  // ---- merging a solo tail after a partition ----

  /**
   * Secondary, about to adopt the primary's snapshot: keeps (durably) its own
   * entries after index `d`, the last one both logs share.
   */
  #keepTail(d: unknown): void {
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0 || d > this.state.index) {
      throw new MergeMessageError("Snapshot with a malformed divergence index");
    }
    this.#flush();
    const added = this.#tail.keepAfter(this.state, d);
    if (added === 0) return;
    logger.warn("Tracker {n} keeps {count} writes it made alone after index {d}, to merge them", {
      n: this.n,
      count: added,
      d,
    });
  }

  /** Secondary, caught up: sends its kept tail to the primary. */
  #sendTail(l: ActiveLink): void {
    if (this.#tail.size === 0) return;
    for (const frame of this.#tail.frames()) l.conn.send(frame).catch(() => {});
    logger.info("Sent {count} writes made alone to the primary to merge", {
      count: this.#tail.size,
    });
  }

  /** Primary: merges a batch of the secondary's tail; answers `merged` after the last. */
  #onMerge(l: ActiveLink, msg: Message): void {
    if (this.role !== "primary" || !l.followerLive) {
      throw new MergeMessageError("Merge received while not the primary of a caught-up secondary");
    }
    const entries = parseTail(msg.entries);
    let merger = this.#mergers.get(l);
    if (msg.first === true || !merger) {
      merger = this.#merger(l.other?.n ?? 3 - this.n);
      this.#mergers.set(l, merger);
    }
    merger.feed(this.state, entries);
    if (msg.last !== true) return;
    this.#mergers.delete(l);
    // The merged entries reach the secondary before the confirmation does.
    this.#flush();
    const c = merger.counts;
    logger.warn(
      "Merged the writes tracker {other} made alone: {merged} applied, {conflicts} conflicts, {skipped} already here",
      { other: 3 - this.n, ...c },
    );
    l.conn.send({ t: "merged", ...c }).catch(() => {});
  }

  /** Secondary: the primary has applied (or refused) every entry of the tail sent. */
  #onMerged(msg: Message): void {
    if (this.role !== "secondary") {
      throw new MergeMessageError("Merged received while not secondary");
    }
    this.#tail.confirmed();
    logger.warn(
      "The primary merged the writes tracker {n} made alone: {merged} applied, {conflicts} conflicts, {skipped} already there",
      { n: this.n, merged: msg.merged, conflicts: msg.conflicts, skipped: msg.skipped },
    );
  }

  /** Becoming primary with a tail still kept: this tracker merges it itself. */
  #mergeOwnTail(): void {
    const merger = this.#merger(this.n);
    merger.feed(this.state, [...this.#tail.entries]);
    this.#flush();
    this.#tail.clear();
    logger.warn(
      "Tracker {n} merged the writes it had kept itself: {merged} applied, {conflicts} conflicts, {skipped} already here",
      { n: this.n, ...merger.counts },
    );
  }

  #merger(from: number): Merger {
    return new Merger({
      from,
      now: Date.now,
      append: (op, reqId) => this.#append(op, reqId).result,
      holds: (e) => this.#store.entry(e.index)?.epoch === e.epoch,
      conflict: (c) =>
        logger.warn("Merge conflict: {summary} from tracker {from} refused: {reason}", { ...c }),
    });
  }

  #follow(l: ActiveLink, entries: LogEntry[]): void {
    if (this.role !== "secondary") throw new Error("log entries received while not secondary");
    if (!Array.isArray(entries)) throw new Error("malformed entries");
    const fresh: LogEntry[] = [];
    for (const e of entries) {
      if (e.index <= this.state.index) continue;
      if (e.index !== this.state.index + 1) {
        throw new Error(`gap in the log: got ${e.index} after ${this.state.index}`);
      }
      // Applied whether or not an observer listens (`?.` would skip the argument too).
      const result = this.state.apply(e);
      this.#opts.observer?.applied(e, result);
      fresh.push(e);
      this.#raiseEpoch(e.epoch);
    }
    if (fresh.length > 0) this.#appliedAt = unixMs();
    this.#store.appendBatch(fresh);
    this.#store.maybeCompact(this.state);
    this.#commitIndex = this.state.index;
    l.conn.send({ t: "ack", index: this.state.index }).catch(() => {});
  }
}
