import assert from "node:assert/strict";
import type { Message } from "../frame.ts";
import { BadMessage } from "./bad_message.ts";
import { BAD_HELLO, decodeTransferMessage, type TransferMessage } from "./transfer.ts";
import { assertBad, assertDecodesOrBad, messageLike, overTheWire } from "./_test_support.ts";

const GOOD: TransferMessage[] = [
  { t: "hello", group: "g1", name: "a.bin", sha1: "a".repeat(40), grant: { grant: "{}", sig: "" } },
  { t: "welcome", have: "all" },
  { t: "welcome", have: "oA==" },
  { t: "welcome", have: "" },
  { t: "get", tag: 7, piece: 0 },
  { t: "get", tag: 1.5, piece: 99 },
  { t: "reject", tag: 7, error: "piece not here yet" },
  { t: "error", error: "grant expired" },
];

Deno.test("decodeTransferMessage() returns every good message as it was sent", () => {
  for (const msg of GOOD) assert.deepEqual(decodeTransferMessage(overTheWire(msg)), msg);
});

Deno.test("decodeTransferMessage() leaves a hello's grant as sent, for verifyGrant to judge", () => {
  for (const grant of [undefined, null, 5, "x", [], { grant: 1 }]) {
    const msg: Message = { t: "hello", group: "g", name: "n", sha1: "s", grant };
    assert.deepEqual(decodeTransferMessage(msg), { ...msg, grant });
  }
});

Deno.test("decodeTransferMessage() throws BadMessage on every malformed shape", () => {
  const cases: [Message, RegExp][] = [
    [{ t: "hello", name: "n", sha1: "s" }, new RegExp(`^${BAD_HELLO}$`)],
    [{ t: "hello", group: "g", name: 1, sha1: "s" }, new RegExp(`^${BAD_HELLO}$`)],
    [{ t: "hello", group: "g", name: "n" }, new RegExp(`^${BAD_HELLO}$`)],
    [{ t: "welcome" }, /^welcome needs have \("all" or base64\)$/],
    [{ t: "welcome", have: "not base64!" }, /^welcome needs have/],
    [{ t: "welcome", have: "oA=" }, /^welcome needs have/],
    [{ t: "get", piece: 0 }, /^get needs tag \(number\)$/],
    [{ t: "get", tag: "1", piece: 0 }, /^get needs tag \(number\)$/],
    [{ t: "get", tag: 1, piece: 1.5 }, /^get needs piece \(integer\)$/],
    [{ t: "get", tag: 1, piece: 2 ** 53 + 2 }, /^get needs piece \(integer\)$/],
    [{ t: "get", tag: 1 }, /^get needs piece \(integer\)$/],
    [{ t: "reject", error: "x" }, /^reject needs tag \(number\)$/],
    [{ t: "reject", tag: 1 }, /^reject needs error \(string\)$/],
    [{ t: "error", error: null }, /^error needs error \(string\)$/],
    [{ t: "have", piece: 1 }, /^unexpected message type "have"$/],
  ];
  for (const [msg, text] of cases) assertBad(decodeTransferMessage, msg, text);
});

Deno.test("decodeTransferMessage() tells which type a malformed message had", () => {
  assert.throws(() => decodeTransferMessage({ t: "get", tag: "x" }), (err: unknown) => {
    assert.ok(err instanceof BadMessage);
    assert.equal(err.type, "get");
    return true;
  });
});

Deno.test("decodeTransferMessage() throws nothing but BadMessage on arbitrary JSON objects", () => {
  const keys = ["group", "name", "sha1", "grant", "have", "tag", "piece", "error"];
  const types = ["hello", "welcome", "get", "reject", "error"];
  assertDecodesOrBad(messageLike(types, keys), decodeTransferMessage);
});
