/**
 * The merge of a solo tail after a partition, on both sides of the link. The
 * secondary keeps (durably) the writes it made alone before it adopts the
 * primary's snapshot and sends them once caught up; the primary re-applies
 * them after its own ({@linkcode Merger}) and confirms with `merged`. A tracker
 * that becomes primary with a tail still kept merges it itself.
 */
import { log } from "../../shared/log.ts";
import { Merger } from "../state/merge.ts";
import type { Store } from "../store/store.ts";
import type { ActiveLink } from "./link_manager.ts";
import type { MergedMessage, MergeMessage } from "./link_messages.ts";
import { send, sendLong } from "./link_send.ts";
import { KeptTail } from "./merge_tail.ts";
import { MergeMessageError } from "./merge_wire.ts";
import type { Replica } from "./replica.ts";
import type { Role } from "./roles.ts";

const logger = log("tracker", "replication");

/** What {@linkcode MergeFlow} needs from the node. */
export interface MergeContext {
  n: 1 | 2;
  store: Store;
  replica: Replica;
  role(): Role;
}

/** The kept tail of one tracker and the merges in progress on its links. */
export class MergeFlow {
  readonly #ctx: MergeContext;
  /** Writes this tracker made alone before it stepped down, until the primary merged them. */
  readonly #tail: KeptTail;
  /** Primary: the merge in progress on each link. */
  readonly #mergers = new WeakMap<ActiveLink, Merger>();

  constructor(ctx: MergeContext) {
    this.#ctx = ctx;
    this.#tail = new KeptTail(ctx.store);
  }

  /** Writes kept until the primary confirms their merge. */
  get pending(): number {
    return this.#tail.size;
  }

  /**
   * Secondary, about to adopt the primary's snapshot: keeps (durably) its own
   * entries after index `d`, the last one both logs share.
   */
  keepTail(d: number): void {
    const { replica, n } = this.#ctx;
    if (d > replica.state.index) {
      throw new MergeMessageError("Snapshot with a malformed divergence index");
    }
    replica.flush();
    const added = this.#tail.keepAfter(replica.state, d);
    if (added === 0) return;
    logger.warn("Tracker {n} keeps {count} writes it made alone after index {d}, to merge them", {
      n,
      count: added,
      d,
    });
  }

  /** Secondary, caught up: sends its kept tail to the primary. */
  sendTail(l: ActiveLink): void {
    if (this.#tail.size === 0) return;
    for (const { msg, size } of this.#tail.frames()) sendLong(l.conn, msg, { size });
    logger.info("Sent {count} writes made alone to the primary to merge", {
      count: this.#tail.size,
    });
  }

  /** Primary: merges a batch of the secondary's tail; answers `merged` after the last. */
  onMerge(l: ActiveLink, msg: MergeMessage): void {
    const { replica, n } = this.#ctx;
    if (this.#ctx.role() !== "primary" || !l.followerLive) {
      throw new MergeMessageError("Merge received while not the primary of a caught-up secondary");
    }
    let merger = this.#mergers.get(l);
    if (msg.first || !merger) {
      merger = this.#merger(l.other?.n ?? 3 - n);
      this.#mergers.set(l, merger);
    }
    merger.feed(replica.state, msg.entries);
    if (!msg.last) return;
    this.#mergers.delete(l);
    // The merged entries reach the secondary before the confirmation does.
    replica.flush();
    const c = merger.counts;
    logger.warn(
      "Merged the writes tracker {other} made alone: {merged} applied, {conflicts} conflicts, {skipped} already here",
      { other: 3 - n, ...c },
    );
    send(l.conn, { t: "merged", ...c });
  }

  /** Secondary: the primary has applied (or refused) every entry of the tail sent. */
  onMerged(msg: MergedMessage): void {
    if (this.#ctx.role() !== "secondary") {
      throw new MergeMessageError("Merged received while not secondary");
    }
    this.#tail.confirmed();
    logger.warn(
      "The primary merged the writes tracker {n} made alone: {merged} applied, {conflicts} conflicts, {skipped} already there",
      { n: this.#ctx.n, merged: msg.merged, conflicts: msg.conflicts, skipped: msg.skipped },
    );
  }

  /** Becoming primary with a tail still kept: this tracker merges it itself. */
  mergeOwnTail(): void {
    if (this.#tail.size === 0) return;
    const { replica, n } = this.#ctx;
    const merger = this.#merger(n);
    merger.feed(replica.state, [...this.#tail.entries]);
    replica.flush();
    this.#tail.clear();
    logger.warn(
      "Tracker {n} merged the writes it had kept itself: {merged} applied, {conflicts} conflicts, {skipped} already here",
      { n, ...merger.counts },
    );
  }

  #merger(from: number): Merger {
    const { replica, store } = this.#ctx;
    return new Merger({
      from,
      now: Date.now,
      append: (op, reqId) => replica.append(op, reqId).result,
      holds: (e) => store.entry(e.index)?.epoch === e.epoch,
      conflict: (c) =>
        logger.warn("Merge conflict: {summary} from tracker {from} refused: {reason}", { ...c }),
    });
  }
}
