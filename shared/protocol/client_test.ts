import assert from "node:assert/strict";
import type { Message } from "../frame.ts";
import { BadMessage } from "./bad_message.ts";
import {
  BAD_REQUEST_ID,
  BadRequest,
  type ClientMessage,
  decodeClientMessage,
  failResponse,
  MALFORMED_REQUEST,
  okResponse,
  requestMessage,
} from "./client.ts";
import { assertBad, assertDecodesOrBad, messageLike, overTheWire } from "./_test_support.ts";

const GOOD: ClientMessage[] = [
  requestMessage("c1-1", "whoami", {}),
  requestMessage("c1-2", "lookup_file", { group: "g", name: "a.bin" }, "tok"),
  okResponse("c1-2", { user: "alice", nested: { list: [1, "x", null] } }),
  failResponse("c1-3", "no group g"),
  failResponse(null, BAD_REQUEST_ID),
  failResponse("c1-4", "this tracker is the secondary", {
    code: "not_primary",
    primary: "127.0.0.1:7001",
  }),
  { t: "error", error: "Frame of 9999999 bytes exceeds the limit of 1048576" },
];

Deno.test("decodeClientMessage() returns every good message as it was sent", () => {
  for (const msg of GOOD) assert.deepEqual(decodeClientMessage(overTheWire(msg)), msg);
});

Deno.test("decodeClientMessage() takes a request without args, or with null args, as empty args", () => {
  for (const args of [undefined, null]) {
    const msg: Message = { t: "req", id: "a", cmd: "whoami", args };
    assert.deepEqual(decodeClientMessage(msg), { t: "req", id: "a", cmd: "whoami", args: {} });
  }
});

Deno.test("decodeClientMessage() refuses a request without a usable id, naming no id", () => {
  for (const id of [undefined, null, "", 7, "x".repeat(129), ["a"]]) {
    const msg: Message = { t: "req", id, cmd: "whoami", args: {} };
    assert.throws(() => decodeClientMessage(msg), (err: unknown) => {
      assert.ok(err instanceof BadRequest);
      assert.equal(err.id, null);
      assert.equal(err.message, BAD_REQUEST_ID);
      return true;
    });
  }
});

Deno.test("decodeClientMessage() refuses a malformed request under its id", () => {
  const bad: Message[] = [
    { t: "req", id: "r", args: {} },
    { t: "req", id: "r", cmd: 42, args: {} },
    { t: "req", id: "r", cmd: "whoami", args: [] },
    { t: "req", id: "r", cmd: "whoami", args: "x" },
    { t: "req", id: "r", cmd: "whoami", args: {}, token: null },
    { t: "req", id: "r", cmd: "whoami", args: {}, token: 5 },
  ];
  for (const msg of bad) {
    assert.throws(() => decodeClientMessage(msg), (err: unknown) => {
      assert.ok(err instanceof BadRequest, JSON.stringify(msg));
      assert.equal(err.id, "r");
      assert.equal(err.message, MALFORMED_REQUEST);
      return true;
    });
  }
});

Deno.test("decodeClientMessage() throws BadMessage on a malformed response or error", () => {
  const cases: [Message, RegExp][] = [
    [{ t: "res", id: 3, ok: true, data: {} }, /^res needs id \(string or null\)$/],
    [{ t: "res", id: null, ok: true, data: {} }, /^res needs id \(string\) when ok$/],
    [{ t: "res", id: "a", ok: "yes", data: {} }, /^res needs ok \(boolean\)$/],
    [{ t: "res", id: "a", ok: true }, /^res needs data \(object\)$/],
    [{ t: "res", id: "a", ok: true, data: [1] }, /^res needs data \(object\)$/],
    [{ t: "res", id: "a", ok: false }, /^res needs error \(string\)$/],
    [{ t: "res", id: "a", ok: false, error: "x", code: 1 }, /^res needs code \(string\)$/],
    [{ t: "res", id: "a", ok: false, error: "x", primary: {} }, /^res needs primary \(string\)$/],
    [{ t: "error" }, /^error needs error \(string\)$/],
    [{ t: "error", error: ["x"] }, /^error needs error \(string\)$/],
  ];
  for (const [msg, text] of cases) assertBad(decodeClientMessage, msg, text);
});

Deno.test("decodeClientMessage() names an unknown type in one clipped line", () => {
  assertBad(decodeClientMessage, { t: "bogus" }, /^unexpected message type "bogus"$/);
  const long = "x\n".repeat(100);
  assertBad(decodeClientMessage, { t: long }, /^unexpected message type "x\\nx\\n/);
  assert.throws(() => decodeClientMessage({ t: long }), (err: unknown) => {
    assert.ok(err instanceof BadMessage);
    assert.ok(err.message.length < 70, err.message);
    assert.equal(err.type.length, 40);
    return true;
  });
});

Deno.test("decodeClientMessage() throws nothing but BadMessage on arbitrary JSON objects", () => {
  const keys = ["id", "cmd", "args", "token", "ok", "data", "error", "code", "primary"];
  assertDecodesOrBad(messageLike(["req", "res", "error"], keys), decodeClientMessage);
});
