import assert from "node:assert/strict";
import type { Message } from "../../shared/frame.ts";
import { fileArgs, Harness } from "../state/_test_harness.ts";
import { TrackerState } from "../state/state.ts";
import { decodeAssembled, decodeLinkMessage, LinkMessageError } from "./link_messages.ts";
import { MergeMessageError } from "./merge_wire.ts";

const entry = { index: 4, epoch: 1, reqId: "r", op: { kind: "logout", token: "t" } };
const view = { n: 2, role: "secondary", epoch: 3, index: 9, lastEpoch: 3 };

/** One well-formed message of every kind the link carries, as the other side sends it. */
const GOOD: Message[] = [
  { t: "link_hello", n: 1, nonce: "ab", ts: 1, mac: "m" },
  { t: "link_welcome", n: 2, nonce: "cd", mac: "m" },
  { t: "link_confirm", mac: "m" },
  { t: "state", ...view },
  { t: "hb", ...view, role: "primary" },
  { t: "sync", index: 9, lastEpoch: 3, runs: [[1, 1], [5, 3]] },
  { t: "sync", index: 0, lastEpoch: 0 },
  { t: "entries", entries: [entry] },
  { t: "op", e: entry },
  { t: "ack", index: 4 },
  { t: "snapshot", snap: new TrackerState().toSnapshot() },
  { t: "snapshot", snap: new TrackerState().toSnapshot(), divergedAt: 2 },
  { t: "synced", index: 4 },
  { t: "merge", entries: [entry], first: true, last: false },
  { t: "merged", merged: 1, conflicts: 0, skipped: 2 },
  { t: "fragment", part: 0, parts: 2, text: "{" },
  { t: "error", error: "frame too large" },
];

Deno.test("decodeLinkMessage() keeps every well-formed message of the link as it was sent", () => {
  for (const msg of GOOD) {
    assert.deepEqual(decodeLinkMessage(structuredClone(msg)), msg, msg.t);
  }
});

Deno.test("decodeLinkMessage() keeps a snapshot of a state with every kind of record", () => {
  const h = new Harness();
  const alice = h.signIn("alice");
  const bob = h.signIn("bob");
  h.group("g", alice, { bob });
  h.ok("share_file", fileArgs("g", "f"), alice);
  h.ok("set_serving", { serving: false }, bob);
  h.write("create_group", { group: "g" }, bob); // a failure, remembered by its request id
  h.applyOp({ kind: "set_grant_key", privateKey: "k", publicKey: "p" });
  h.applyOp({ kind: "conflict", from: 1, reqId: "x", summary: "s", reason: "r", at: 1 });
  const msg = { t: "snapshot", snap: JSON.parse(JSON.stringify(h.state.toSnapshot())) };
  assert.deepEqual(decodeLinkMessage(msg), msg);
});

Deno.test("decodeLinkMessage() refuses malformed messages with a one-line LinkMessageError", () => {
  const snap = new TrackerState().toSnapshot();
  const bad: [Message, RegExp][] = [
    [{ t: "drop_table" }, /Unknown link message drop_table/],
    [{ t: "link_hello", n: 3, nonce: "a", ts: 1, mac: "m" }, /malformed n/],
    [{ t: "link_hello", n: 1, nonce: "a".repeat(65), ts: 1, mac: "m" }, /malformed nonce/],
    [{ t: "link_welcome", n: 1, nonce: "a", mac: 5 }, /malformed mac/],
    [{ t: "state", ...view, role: "leader" }, /malformed role/],
    [{ t: "hb", ...view, epoch: -1 }, /malformed epoch/],
    [{ t: "sync", index: "3", lastEpoch: 1 }, /malformed index/],
    [{ t: "sync", index: 3, lastEpoch: 1, runs: [[5, 1]] }, /epoch runs/],
    [{ t: "entries", entries: {} }, /entries array/],
    [{ t: "entries", entries: [{ ...entry, op: { kind: "logout" } }] }, /field token/],
    [{ t: "op", e: null }, /not an object/],
    [{ t: "ack", index: 1.5 }, /malformed index/],
    [{ t: "snapshot", snap: { ...snap, users: [{ id: 1 }] } }, /malformed users/],
    [{ t: "snapshot", snap: { ...snap, index: undefined } }, /index and epoch/],
    [{ t: "snapshot", snap, divergedAt: "2" }, /malformed divergedAt/],
    [{ t: "merge", entries: [{ ...entry, index: 0 }] }, /index or epoch/],
    [{ t: "merged", merged: 1 }, /malformed conflicts/],
    [{ t: "fragment", part: 0, parts: 1 }, /malformed text/],
  ];
  for (const [msg, re] of bad) {
    assert.throws(() => decodeLinkMessage(msg), (err: Error) => {
      assert.ok(err instanceof LinkMessageError, `${msg.t}: ${err}`);
      assert.match(err.message, re);
      assert.ok(!err.message.includes("\n"));
      return true;
    }, JSON.stringify(msg));
  }
});

Deno.test("a malformed merge or sync is a MergeMessageError, still a LinkMessageError", () => {
  assert.throws(() => decodeLinkMessage({ t: "merge", entries: null }), MergeMessageError);
  assert.throws(
    () => decodeLinkMessage({ t: "sync", index: 1, lastEpoch: 0, runs: 3 }),
    (e) => e instanceof MergeMessageError && e instanceof LinkMessageError,
  );
});

Deno.test("decodeAssembled() decodes reassembled text, never a fragment or a handshake", () => {
  const msg = { t: "entries", entries: [entry] };
  assert.deepEqual(decodeAssembled(JSON.stringify(msg)), msg);
  for (
    const [text, re] of [
      ["{not json", /not JSON/],
      ["[1]", /not a message object/],
      [JSON.stringify({ t: "fragment", part: 0, parts: 1, text: "x" }), /cannot be fragmented/],
      [JSON.stringify({ t: "link_confirm", mac: "m" }), /cannot be fragmented/],
      [JSON.stringify({ t: "ack" }), /malformed index/],
    ] as const
  ) {
    assert.throws(() => decodeAssembled(text), (err: Error) => {
      assert.ok(err instanceof LinkMessageError);
      assert.match(err.message, re);
      return true;
    }, text);
  }
});
