/**
 * A tracker's own writes after a partition, kept durably from the moment it
 * learns its log diverged (before it adopts the other's snapshot, which
 * replaces its log) until the other tracker confirms it merged them. A
 * tracker that crashes in between sends them again after its restart.
 */
import { describeError } from "../../shared/errors.ts";
import { log } from "../../shared/log.ts";
import { entryId, tailToSend } from "../state/merge.ts";
import type { MergeMessage } from "./link_messages.ts";
import { mergeMessages } from "./link_send.ts";
import { parseTail } from "./merge_wire.ts";
import type { LogEntry } from "../state/ops.ts";
import type { TrackerState } from "../state/state.ts";
import type { Store } from "../store/store.ts";

const logger = log("tracker", "replication");

/** The store setting that holds the kept tail. */
export const MERGE_TAIL_KEY = "merge_tail";

/** The kept tail of one tracker, persisted in its store's settings. */
export class KeptTail {
  readonly #store: Store;
  #entries: LogEntry[] = [];
  /** How many of the entries went out in the last {@linkcode KeptTail.frames}. */
  #sent = 0;

  /** Loads what a previous run kept. */
  constructor(store: Store) {
    this.#store = store;
    const raw = store.getMeta(MERGE_TAIL_KEY);
    if (raw === undefined) return;
    try {
      this.#entries = parseTail(JSON.parse(raw));
    } catch (err) {
      // Set aside, not dropped: a later partition must not overwrite them unread.
      const aside = `${MERGE_TAIL_KEY}.unreadable`;
      store.setMeta(aside, raw);
      store.deleteMeta(MERGE_TAIL_KEY);
      logger.error(
        "Cannot read the kept writes to merge ({error}); they are kept in tracker.db meta {key}",
        { error: describeError(err), key: aside },
      );
    }
  }

  /** Entries kept. */
  get size(): number {
    return this.#entries.length;
  }

  /** The entries kept, in log order. */
  get entries(): readonly LogEntry[] {
    return this.#entries;
  }

  /**
   * Keeps this tracker's log entries after index `d` (the last one both logs
   * share) that are worth merging, judged by `state` (this tracker's own, not
   * yet replaced). Returns how many were added.
   */
  keepAfter(state: TrackerState, d: number): number {
    const first = this.#store.firstIndex();
    if (state.index > d && (first === 0 || first > d + 1)) {
      logger.error(
        "Entries {from} to {to} of this tracker's own writes are compacted: they are lost",
        {
          from: d + 1,
          to: first === 0 ? state.index : first - 1,
        },
      );
    }
    const entries: LogEntry[] = [];
    for (let from = d;;) {
      const batch = this.#store.entriesAfter(from, 1000);
      if (batch.length === 0) break;
      entries.push(...batch);
      from = batch[batch.length - 1]!.index;
    }
    const known = new Set(this.#entries.map(entryId));
    const added = tailToSend(state, entries).filter((e) => !known.has(entryId(e)));
    if (added.length > 0) this.#set([...this.#entries, ...added]);
    return added.length;
  }

  /** The `merge` messages (with their sizes) that carry every kept entry; they count as sent. */
  frames(): { msg: MergeMessage; size: number }[] {
    this.#sent = this.#entries.length;
    return mergeMessages(this.#entries);
  }

  /** The other tracker applied (or refused) every entry sent: they are forgotten. */
  confirmed(): void {
    this.#set(this.#entries.slice(this.#sent));
  }

  /** Forgets every entry (this tracker merged them itself). */
  clear(): void {
    this.#set([]);
  }

  #set(entries: LogEntry[]): void {
    this.#entries = entries;
    this.#sent = 0;
    if (entries.length === 0) this.#store.deleteMeta(MERGE_TAIL_KEY);
    else this.#store.setMeta(MERGE_TAIL_KEY, JSON.stringify(entries));
  }
}
