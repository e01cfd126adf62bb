/**
 * Sending {@linkcode LinkMessage}s on the tracker link: small ones as they
 * are, log entries in batches bounded by size, and a message too long for one
 * frame in fragments (link_chunks.ts). Sends are queued in order and never
 * awaited: a failed send shows as the link closing.
 */
import type { Message } from "../../shared/frame.ts";
import type { LogEntry } from "../state/ops.ts";
import { batchBySize, fragmentText, jsonSize, MAX_WHOLE } from "./link_chunks.ts";
import type { FragmentMessage, LinkMessage, MergeMessage } from "./link_messages.ts";

/** Room for a batch's envelope (`{"t":"entries","entries":[...]}`) in its size. */
const BATCH_ENVELOPE = 64;

/** What sending needs of a connection (a `FramedConn` in use). */
export interface LinkConn {
  send(msg: Message): Promise<void>;
}

/** Sends a message that fits one frame (a view, an ack, a small answer). */
export function send(conn: LinkConn, msg: LinkMessage): void {
  conn.send(msg).catch(() => {});
}

/**
 * Sends a message that may be long: in one frame when its JSON text fits
 * ({@linkcode MAX_WHOLE}), else in fragments. `size`, when given, bounds the
 * length of that text from above and saves measuring it.
 */
export function sendLong(conn: LinkConn, msg: LinkMessage, options: { size?: number } = {}): void {
  const { size } = options;
  if (size !== undefined && size <= MAX_WHOLE) return send(conn, msg);
  const text = JSON.stringify(msg);
  if (text.length <= MAX_WHOLE) return send(conn, msg);
  const parts = fragmentText(text);
  parts.forEach((t, part) => {
    const f: FragmentMessage = { t: "fragment", part, parts: parts.length, text: t };
    send(conn, f);
  });
}

/** Log entries cut into batches for `entries` or `merge` frames, each with its size. */
function sizedBatches(entries: readonly LogEntry[]): { batch: LogEntry[]; size: number }[] {
  const sized = entries.map((e) => ({ e, size: jsonSize(e) }));
  return batchBySize(sized, { size: (s) => s.size }).map((b) => ({
    batch: b.map((s) => s.e),
    size: b.reduce((sum, s) => sum + s.size + 1, BATCH_ENVELOPE),
  }));
}

/** Sends consecutive log entries in `entries` frames bounded by size. */
export function sendEntries(conn: LinkConn, entries: readonly LogEntry[]): void {
  for (const { batch, size } of sizedBatches(entries)) {
    sendLong(conn, { t: "entries", entries: batch }, { size });
  }
}

/** The `merge` messages that carry a whole solo tail, bounded by size, with their sizes. */
export function mergeMessages(entries: readonly LogEntry[]): { msg: MergeMessage; size: number }[] {
  const batches = sizedBatches(entries);
  return batches.map(({ batch, size }, i) => ({
    msg: { t: "merge", entries: batch, first: i === 0, last: i === batches.length - 1 },
    size,
  }));
}
