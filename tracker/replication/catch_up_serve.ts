/**
 * The primary's side of a catch-up, at the edge: it answers a secondary's
 * `sync` as {@linkcode planCatchUp} decides, with the log after the
 * secondary's last entry in `entries` batches bounded by size, or with a
 * snapshot (in fragments when it is too long for one frame), then `synced`.
 * From then on the secondary follows live.
 */
import { log } from "../../shared/log.ts";
import type { TrackerState } from "../state/state.ts";
import type { Store } from "../store/store.ts";
import { planCatchUp } from "./catch_up.ts";
import { MAX_BATCH_ENTRIES } from "./link_chunks.ts";
import type { ActiveLink } from "./link_manager.ts";
import type { SnapshotMessage, SyncMessage } from "./link_messages.ts";
import { send, sendEntries, sendLong } from "./link_send.ts";

const logger = log("tracker", "replication");

/** A secondary's `sync`, and what the catch-up reads: this tracker's number, state and store. */
export interface CatchUpRequest {
  sync: SyncMessage;
  n: 1 | 2;
  state: TrackerState;
  store: Store;
}

/** Catches the secondary on `l` up from where its `sync` says its log ends. */
export function serveCatchUp(l: ActiveLink, from: CatchUpRequest): void {
  const { sync: req, state: st, store } = from;
  const plan = planCatchUp(req, {
    index: st.index,
    epoch: st.epoch,
    firstIndex: store.firstIndex(),
    epochOf: (i) => store.entry(i)?.epoch,
  });
  const index = req.index;
  if (plan.how === "log") {
    for (let at = index; at < st.index;) {
      const page = store.entriesAfter(at, MAX_BATCH_ENTRIES);
      if (page.length === 0) break;
      sendEntries(l.conn, page);
      at = page[page.length - 1]!.index;
    }
    l.acked = index;
  } else {
    // A secondary whose log goes on past the last entry both logs share
    // holds writes it made alone: it is told where, to merge them.
    const snapshot: SnapshotMessage = { t: "snapshot", snap: st.toSnapshot() };
    if (plan.divergedAt !== undefined) snapshot.divergedAt = plan.divergedAt;
    sendLong(l.conn, snapshot);
    l.acked = 0;
    if (plan.divergedAt !== undefined) {
      logger.warn(
        "The logs diverged after index {d}: tracker {other} has {count} entries of its own",
        { d: plan.divergedAt, other: 3 - from.n, count: index - plan.divergedAt },
      );
    }
  }
  l.followerLive = true;
  l.established = true;
  send(l.conn, { t: "synced", index: st.index });
  logger.info("Secondary catching up from index {index} by {how}", {
    index,
    how: plan.how === "log" ? "log" : "snapshot",
  });
}
