import assert from "node:assert/strict";
import { MergeMessageError, parseOp, parseRuns, parseTail } from "./merge_wire.ts";

const good = {
  index: 7,
  epoch: 3,
  reqId: "r1",
  op: { kind: "create_group", user: "alice", group: "g", at: 5 },
};

Deno.test("parseTail() accepts well-formed entries and keeps what they carry", () => {
  assert.deepEqual(parseTail([good, { index: 8, epoch: 3, op: { kind: "logout", token: "t" } }]), [
    good,
    { index: 8, epoch: 3, op: { kind: "logout", token: "t" } },
  ]);
  assert.deepEqual(parseTail([]), []);
});

Deno.test("parseTail() refuses malformed entries with a MergeMessageError", () => {
  const bad: [unknown, RegExp][] = [
    [null, /entries array/],
    [{}, /entries array/],
    [[null], /not an object/],
    [[{ ...good, index: 0 }], /index or epoch/],
    [[{ ...good, index: 1.5 }], /index or epoch/],
    [[{ ...good, epoch: -1 }], /index or epoch/],
    [[{ ...good, reqId: 5 }], /request id/],
    [[{ ...good, reqId: "x".repeat(129) }], /request id/],
    [[{ ...good, op: null }], /op object/],
    [[{ ...good, op: [] }], /op object/],
    [[{ ...good, op: { kind: "drop_table" } }], /unknown op kind drop_table/],
    [[{ ...good, op: { kind: "__proto__" } }], /unknown op kind/],
    [[{ ...good, op: { kind: "create_group", user: "a", group: 1, at: 5 } }], /field group/],
    [[{ ...good, op: { kind: "create_group", user: "a", group: "g", at: NaN } }], /field at/],
    [[{ ...good, op: { kind: "set_serving", token: "t", serving: "yes" } }], /field serving/],
    [[{
      ...good,
      op: { kind: "report_pieces", user: "a", group: "g", name: "f", pieces: [1, "2"] },
    }], /field pieces/],
  ];
  for (const [input, re] of bad) {
    assert.throws(() => parseTail(input), (err: Error) => {
      assert.ok(err instanceof MergeMessageError, `${JSON.stringify(input)}: ${err}`);
      assert.match(err.message, re);
      return true;
    });
  }
  assert.throws(
    () => parseOp({ kind: "conflict", from: 1, summary: "s", reason: "r", at: 1, reqId: 3 }),
    MergeMessageError,
  );
});

Deno.test("parseRuns() accepts increasing runs within the sender's log, nothing when absent", () => {
  assert.equal(parseRuns(undefined, 10), undefined);
  assert.deepEqual(parseRuns([], 0), []);
  assert.deepEqual(parseRuns([[1, 1], [4, 2], [10, 2]], 10), [[1, 1], [4, 2], [10, 2]]);
  for (
    const bad of [{}, [[0, 1]], [[1]], [[1, 1], [1, 2]], [[3, 1], [2, 2]], [[11, 1]], [["1", 1]]]
  ) {
    assert.throws(() => parseRuns(bad, 10), MergeMessageError, JSON.stringify(bad));
  }
});
