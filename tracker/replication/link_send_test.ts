import assert from "node:assert/strict";
import { MAX_LINK_FRAME, PIECE_SIZE } from "../../shared/constants.ts";
import { encodeJson, type Message } from "../../shared/frame.ts";
import { MAX_FILE_SIZE } from "../state/commands.ts";
import type { LogEntry } from "../state/ops.ts";
import { FRAME_BUDGET, Reassembly } from "./link_chunks.ts";
import { decodeAssembled, decodeLinkMessage, type LinkMessage } from "./link_messages.ts";
import { type LinkConn, mergeMessages, sendEntries, sendLong } from "./link_send.ts";

/** A connection that keeps what is sent, as the frames the other side would read. */
function recorder(): LinkConn & { frames: Message[] } {
  const frames: Message[] = [];
  return {
    frames,
    send(msg) {
      frames.push(msg);
      return Promise.resolve();
    },
  };
}

/** What the other side makes of the frames: every message, fragments reassembled. */
function receive(frames: Message[]): LinkMessage[] {
  const r = new Reassembly();
  const out: LinkMessage[] = [];
  for (const f of frames) {
    const msg = decodeLinkMessage(f);
    if (msg.t !== "fragment") out.push(msg);
    else {
      const text = r.push(msg);
      if (text !== null) out.push(decodeAssembled(text));
    }
  }
  return out;
}

function share(index: number, size: number): LogEntry {
  const digest = index.toString(16).padStart(40, "0");
  return {
    index,
    epoch: 1,
    reqId: `r${index}`,
    op: {
      kind: "share_file",
      user: "alice",
      group: "g",
      name: `f${index}`,
      size,
      pieceSize: PIECE_SIZE,
      pieces: digest.repeat(Math.ceil(size / PIECE_SIZE)),
      sha1: digest,
      at: 1,
    },
  };
}

const small = (index: number): LogEntry => ({
  index,
  epoch: 1,
  op: { kind: "logout", token: "t" },
});

Deno.test("sendEntries() sends small entries in one frame, as before", () => {
  const conn = recorder();
  const entries = [small(1), small(2), small(3)];
  sendEntries(conn, entries);
  assert.deepEqual(conn.frames, [{ t: "entries", entries }]);
});

Deno.test("sendEntries() keeps every frame of 100 GiB shares within the budget, one share each", () => {
  const conn = recorder();
  const entries = [small(1), ...Array.from({ length: 10 }, (_, i) => share(i + 2, 100 * 2 ** 30))];
  sendEntries(conn, entries);
  assert.equal(conn.frames.length, 11);
  for (const f of conn.frames) assert.ok(encodeJson(f).length <= 3 * FRAME_BUDGET);
  assert.deepEqual(
    receive(conn.frames).flatMap((m) => m.t === "entries" ? m.entries : []),
    entries,
  );
});

Deno.test("share_file of the largest file the tracker takes (1 TiB in 512 KiB pieces) crosses the link in fragments", () => {
  // 2,097,152 piece hashes: 84 MB of hex, more than a frame can carry.
  const big = share(2, MAX_FILE_SIZE);
  assert.ok((big.op as { pieces: string }).pieces.length > MAX_LINK_FRAME);
  const conn = recorder();
  sendEntries(conn, [small(1), big, small(3)]);
  assert.ok(conn.frames.length > 3);
  assert.ok(conn.frames.slice(1, -1).every((f) => f.t === "fragment"));
  for (const f of conn.frames) assert.ok(encodeJson(f).length <= 3 * FRAME_BUDGET + 100);
  const got = receive(conn.frames);
  assert.deepEqual(got.map((m) => m.t), ["entries", "entries", "entries"]);
  assert.deepEqual(got.flatMap((m) => m.t === "entries" ? m.entries : []), [
    small(1),
    big,
    small(3),
  ]);
});

Deno.test("sendLong() sends a message whole when it fits a frame, in fragments when not", () => {
  const conn = recorder();
  sendLong(conn, { t: "synced", index: 3 });
  assert.deepEqual(conn.frames, [{ t: "synced", index: 3 }]);
  const huge: LinkMessage = {
    t: "merge",
    entries: [share(1, MAX_FILE_SIZE)],
    first: true,
    last: true,
  };
  sendLong(conn, huge);
  assert.ok(conn.frames.slice(1).every((f) => f.t === "fragment"));
  assert.deepEqual(receive(conn.frames.slice(1)), [huge]);
});

Deno.test("mergeMessages() marks the first and the last batch of a tail", () => {
  const tail = Array.from({ length: 1200 }, (_, i) => small(i + 1));
  const msgs = mergeMessages(tail).map((m) => m.msg);
  assert.deepEqual(msgs.map((m) => [m.entries.length, m.first, m.last]), [
    [500, true, false],
    [500, false, false],
    [200, false, true],
  ]);
  assert.deepEqual(msgs.flatMap((m) => m.entries), tail);
  assert.deepEqual(mergeMessages([]), []);
});
