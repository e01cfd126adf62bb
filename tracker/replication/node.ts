/**
 * One tracker of the pair: its role (primary or secondary) and what the link
 * to the other tracker carries. The state is the pure {@linkcode TrackerState}
 * inside the {@linkcode Replica}; who leads is decided by the pure functions of
 * roles.ts and how to catch up by catch_up.ts. This class carries their
 * decisions out (link, store, timers) and answers clients only once an op is
 * safe on both trackers (or on the primary alone while the other is down).
 */
import type { Message } from "../../shared/frame.ts";
import { newGrantKeyPair } from "../../shared/grant.ts";
import { ConnectionError, describeError } from "../../shared/errors.ts";
import { log } from "../../shared/log.ts";
import type { ClusterCa } from "../../shared/tls/ca.ts";
import type { Endpoint } from "../../shared/tracker_info.ts";
import type { LivenessView } from "../state/commands.ts";
import type { LogEntry } from "../state/ops.ts";
import type { Conflict, TrackerState } from "../state/state.ts";
import type { Store } from "../store/store.ts";
import { entriesAfter } from "./catch_up.ts";
import { serveCatchUp } from "./catch_up_serve.ts";
import type { Link } from "./link.ts";
import { type ActiveLink, LinkManager } from "./link_manager.ts";
import { type LinkMessage, LinkMessageError, viewOf } from "./link_messages.ts";
import { send, sendEntries } from "./link_send.ts";
import { MergeFlow } from "./merge_flow.ts";
import { type NodeObserver, Replica } from "./replica.ts";
import type { Role, TrackerView } from "./roles.ts";
import { afterDialFailure, nextEpoch, rolesDisagree, shouldLead } from "./roles.ts";

export type { NodeObserver };

/** What {@linkcode TrackerNode.status} reports. */
export type NodeStatus = {
  tracker: number;
  role: Role;
  epoch: number;
  /** The last op applied here. */
  index: number;
  /** When it was applied (Unix ms), or null before any. */
  appliedAt: number | null;
  commitIndex: number;
  catchingUp: boolean;
  conflicts: Conflict[];
  /** Writes made alone during a partition, waiting to be merged. */
  mergePending: number;
  other:
    | { connected: true; role: Role; epoch: number; index: number; live: boolean }
    | { connected: false };
};

const logger = log("tracker", "replication");

/** A tracker that was secondary waits this many grace periods at start for the other. */
export const START_WAIT_GRACES = 10;

/** Options for {@linkcode TrackerNode}. */
export interface NodeOptions {
  n: 1 | 2;
  trackers: [Endpoint, Endpoint];
  store: Store;
  key: CryptoKey;
  /** The cluster CA: the other tracker's certificate must chain to it; it issues peer identities. */
  ca: ClusterCa;
  /** This tracker's own certificate and key, shown when it dials the other (mutual TLS). */
  identity?: { cert: string; key: string };
  /** Heartbeat interval on the tracker link; three missed mean the other is dead. */
  heartbeatMs: number;
  /** How long a secondary waits for a dropped link to come back before it promotes itself. */
  graceMs: number;
  /** Told of every entry applied here and of role changes (soft state kept beside the log). */
  observer?: NodeObserver;
  /** Makes what answers clients on this node (tracker/server/client_requests.ts). */
  requests(ctx: RequestContext): RequestHandler;
}

/** What answering clients needs from the node. */
export interface RequestContext {
  /** The state, and the log writes go to. */
  replica: Replica;
  /** This tracker's role now (it may change while a request waits). */
  role(): Role;
  /** The other tracker, named in `not_primary` answers. */
  other: Endpoint;
  /** Which sessions are online, for lookups and counts. */
  live?: LivenessView;
  /** The cluster CA, which issues peer identities. */
  ca: ClusterCa;
}

/** Answers client requests. */
export interface RequestHandler {
  /** Answers one client request message (`{t:"req", id, cmd, args, token}`). */
  handle(msg: Message): Promise<Message>;
}

/** A tracker of the replicated pair. */
export class TrackerNode {
  readonly n: 1 | 2;
  role: Role = "starting";
  #opts: NodeOptions;
  #replica: Replica;
  #requests: RequestHandler;
  #merge: MergeFlow;
  #links: LinkManager;
  #lostAt = 0;
  #startedAt = Date.now();
  #waitLogged = false;

  constructor(opts: NodeOptions) {
    this.#opts = opts;
    this.n = opts.n;
    const replica = new Replica({
      store: opts.store,
      observer: opts.observer,
      ship: (batch) => this.#ship(batch),
    });
    this.#replica = replica;
    const role = () => this.role;
    const other = opts.trackers[2 - opts.n]!;
    this.#requests = opts.requests({ replica, role, other, live: opts.observer, ca: opts.ca });
    this.#merge = new MergeFlow({ n: opts.n, store: opts.store, replica, role });
    this.#links = new LinkManager({
      me: opts.n,
      other,
      key: opts.key,
      caPem: opts.ca.certPem,
      identity: opts.identity,
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

  /** The replicated state (replaced when a snapshot is adopted). */
  get state(): TrackerState {
    return this.#replica.state;
  }

  /** The highest epoch this tracker knows. */
  get epoch(): number {
    return this.#replica.epoch;
  }

  /** Starts looking for the other tracker; the role is settled from there. */
  start(): void {
    this.#links.start();
  }

  /** Stops dialing and closes the link. */
  async stop(): Promise<void> {
    this.#replica.flush();
    this.#opts.observer?.demoted?.();
    this.#replica.abandonWaiters();
    await this.#links.stop();
  }

  /** Forces this tracker to become primary (operator override, e.g. after a lost catch-up). */
  forcePromote(): void {
    if (this.role === "primary") return;
    this.#replica.setSyncing(false);
    this.#promote(this.#links.current?.other?.epoch ?? 0);
    this.#links.current?.conn.close();
  }

  /** A summary for the console, the status page and tests. */
  status(): NodeStatus {
    const l = this.#links.current;
    const r = this.#replica;
    return {
      tracker: this.n,
      role: this.role,
      epoch: r.epoch,
      index: r.state.index,
      appliedAt: r.appliedAt,
      commitIndex: r.commitIndex,
      catchingUp: r.syncing,
      conflicts: r.state.conflicts.map((c) => ({ ...c })),
      mergePending: this.#merge.pending,
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
  handleRequest(msg: Message): Promise<Message> {
    return this.#requests.handle(msg);
  }

  /** Takes an authenticated link accepted by the server into use. */
  adoptLink(link: Link): void {
    this.#links.adopt(link);
  }

  /** A flushed batch: to the live secondary, or committed at once by a primary alone. */
  #ship(batch: LogEntry[]): void {
    if (this.role !== "primary") return;
    const l = this.#links.current;
    if (l?.followerLive) sendEntries(l.conn, batch);
    else this.#replica.advanceCommit(batch[batch.length - 1]!.index);
  }

  async #ensureGrantKey(): Promise<void> {
    if (this.state.grantKey || this.role !== "primary") return;
    const kp = await newGrantKeyPair();
    if (this.state.grantKey || this.role !== "primary") return;
    this.#replica.append({ kind: "set_grant_key", ...kp });
  }

  // ---- roles ----

  #view(): TrackerView {
    const st = this.state;
    return { n: this.n, role: this.role, epoch: this.epoch, index: st.index, lastEpoch: st.epoch };
  }

  #promote(otherEpoch: number): void {
    const r = this.#replica;
    r.raiseEpoch(nextEpoch(Math.max(r.epoch, otherEpoch, r.state.epoch), this.n));
    this.role = "primary";
    r.setRole("primary");
    this.#lostAt = 0;
    logger.warn("Tracker {n} is now primary (epoch {epoch})", { n: this.n, epoch: r.epoch });
    this.#opts.observer?.promoted();
    r.append({ kind: "epoch", epoch: r.epoch, tracker: this.n });
    this.#merge.mergeOwnTail();
    this.#ensureGrantKey().catch((err) =>
      logger.error("Cannot make the grant key: {error}", { error: describeError(err) })
    );
  }

  #stepDown(): void {
    this.#replica.flush();
    logger.warn("Tracker {n} steps down to secondary (epoch {epoch})", {
      n: this.n,
      epoch: this.epoch,
    });
    this.role = "secondary";
    this.#opts.observer?.demoted?.();
    this.#replica.abandonWaiters();
  }

  /** Both trackers said who they are: the one {@linkcode shouldLead} picks leads, the other syncs. */
  #onState(l: ActiveLink, other: TrackerView): void {
    l.other = other;
    if (shouldLead(this.#view(), other)) {
      if (this.role !== "primary") this.#promote(other.epoch);
      return; // the other follows and sends sync
    }
    const r = this.#replica;
    if (this.role === "primary") this.#stepDown();
    this.role = "secondary";
    r.setRole("secondary");
    r.raiseEpoch(other.epoch);
    r.setSyncing(true);
    r.flush();
    send(l.conn, { t: "sync", index: r.state.index, lastEpoch: r.state.epoch, runs: r.runs() });
  }

  #onHeartbeat(l: ActiveLink, other: TrackerView): void {
    l.other = other;
    if (!l.established || !rolesDisagree(this, other)) return;
    logger.warn("Roles disagree (me {me}, other {other}): renegotiating", {
      me: this.role,
      other: other.role,
    });
    l.conn.close();
  }

  #dialFailed(err: unknown): void {
    const refused = err instanceof ConnectionError &&
      err.cause instanceof Deno.errors.ConnectionRefused;
    logger.debug("Cannot reach the other tracker: {error}", { error: describeError(err) });
    const startWaitMs = START_WAIT_GRACES * this.#opts.graceMs;
    const decision = afterDialFailure({
      role: this.role,
      lastRole: this.#replica.lastRole,
      linked: this.#links.current !== null,
      syncing: this.#replica.syncing,
      refused,
      now: Date.now(),
      startedAt: this.#startedAt,
      lostAt: this.#lostAt,
      graceMs: this.#opts.graceMs,
      startWaitMs,
    });
    switch (decision.do) {
      case "wait":
        if (decision.lostAt !== undefined) this.#lostAt = decision.lostAt;
        return;
      case "wait_catching_up":
        logger.warn(
          "Tracker {n} was catching up when the link dropped; it waits for the other tracker (console: promote)",
          { n: this.n },
        );
        return;
      case "wait_at_start":
        if (this.#waitLogged) return;
        this.#waitLogged = true;
        logger.warn(
          "Tracker {n} was secondary: waiting up to {ms} ms for the other tracker before taking over",
          { n: this.n, ms: startWaitMs },
        );
        return;
      case "promote":
        return this.#promote(0);
    }
  }

  #linkLost(l: ActiveLink, replaced = false): void {
    if (replaced) logger.debug("Duplicate link replaced by the one tracker 1 dialed");
    else logger.warn("Link to tracker {other} lost", { other: 3 - this.n });
    if (this.role === "primary") {
      if (l.followerLive) logger.warn("Secondary gone: primary carries on alone");
      this.#replica.advanceCommit(this.state.index);
    } else if (this.role === "secondary") {
      this.#lostAt = Date.now();
    }
    this.#links.wake();
  }

  // ---- what the link carries ----

  #onLinkMessage(l: ActiveLink, msg: LinkMessage): void {
    switch (msg.t) {
      case "state":
        return this.#onState(l, viewOf(msg));
      case "hb":
        return this.#onHeartbeat(l, viewOf(msg));
      case "sync":
        this.#expect("primary", msg.t);
        this.#replica.flush();
        return serveCatchUp(l, {
          sync: msg,
          n: this.n,
          state: this.state,
          store: this.#opts.store,
        });
      case "ack":
        if (this.role === "primary" && l.followerLive) {
          if (msg.index > l.acked) l.acked = msg.index;
          this.#replica.advanceCommit(Math.min(l.acked, this.state.index));
        }
        return;
      case "op":
        return this.#follow(l, [msg.e]);
      case "entries":
        return this.#follow(l, msg.entries);
      case "snapshot":
        this.#expect("secondary", msg.t);
        if (msg.divergedAt !== undefined) this.#merge.keepTail(msg.divergedAt);
        logger.warn("Adopting the primary's snapshot at index {index} (local index {local})", {
          index: msg.snap.index,
          local: this.state.index,
        });
        this.#replica.adopt(msg.snap);
        send(l.conn, { t: "ack", index: this.state.index });
        return;
      case "synced":
        this.#expect("secondary", msg.t);
        this.#replica.setSyncing(false);
        l.established = true;
        logger.info("Caught up with the primary at index {index}", { index: this.state.index });
        this.#merge.sendTail(l);
        return;
      case "merge":
        return this.#merge.onMerge(l, msg);
      case "merged":
        return this.#merge.onMerged(msg);
      case "error":
        throw new LinkMessageError(`The other tracker reports an error: ${msg.error}`);
      default:
        throw new LinkMessageError(`Link message ${msg.t} out of place`);
    }
  }

  #expect(role: Role, what: string): void {
    if (this.role !== role) throw new LinkMessageError(`${what} received while not ${role}`);
  }

  #follow(l: ActiveLink, entries: LogEntry[]): void {
    this.#expect("secondary", "log entries");
    this.#replica.follow(entriesAfter(this.state.index, entries));
    send(l.conn, { t: "ack", index: this.state.index });
  }
}
