import assert from "node:assert/strict";
import { fail, type LogEntry, ok, type Op, type Result } from "./ops.ts";
import { RevocationLog, REVOCATIONS_KEPT, revocationsOf } from "./revocations.ts";

const entry = (index: number, op: Op, epoch = 1): LogEntry => ({ index, epoch, op });
const leave = (user: string): Op => ({ kind: "leave_group", user, group: "g1" });

Deno.test("revocationsOf: logout, leave_group and a file leaving the group revoke; the rest do not", () => {
  const at = { index: 7, ep: 1 };
  const cases: [Op, Result, unknown[]][] = [
    [{ kind: "logout", token: "t" }, ok({ user: "bob" }), [{ ...at, user: "bob" }]],
    [leave("bob"), ok({ group: "g1", deleted: false }), [{ ...at, user: "bob", group: "g1" }]],
    [leave("bob"), ok({ group: "g1", deleted: true }), [{ ...at, group: "g1" }]],
    [
      { kind: "stop_share", user: "a", group: "g1", name: "f" },
      ok({ removed: true }),
      [{ ...at, group: "g1", name: "f" }],
    ],
    [{ kind: "stop_share", user: "a", group: "g1", name: "f" }, ok({ removed: false }), []],
    [{ kind: "logout", token: "t" }, fail("not logged in"), []],
    [{ kind: "join_group", user: "bob", group: "g1" }, ok({}), []],
  ];
  for (const [op, result, want] of cases) {
    assert.deepEqual(revocationsOf(entry(7, op), result), want, JSON.stringify(op));
  }
});

Deno.test("RevocationLog.since tells every watcher what came after its position", () => {
  const log = new RevocationLog();
  log.applied(entry(1, leave("bob")), ok({ deleted: false }));
  log.applied(entry(2, { kind: "create_group", user: "x", group: "g9", at: 0 }), ok());
  log.applied(entry(3, { kind: "logout", token: "t" }), ok({ user: "carol" }));
  const all = log.since(-1, 0);
  assert.deepEqual(all.revocations.map((r) => r.index), [1, 3]);
  assert.equal(all.index, 3);
  assert.equal(all.epoch, 1);
  assert.equal(all.floor, 0, "this log saw everything from the start");
  assert.deepEqual(log.since(1, 1).revocations.map((r) => r.index), [3]);
  assert.deepEqual(log.since(3, 1).revocations, []);
});

Deno.test("RevocationLog: a position from another history or past this log counts as the start", () => {
  const log = new RevocationLog();
  log.reset(100, 3);
  log.applied(entry(101, leave("bob"), 3), ok({ deleted: false }));
  log.applied(entry(102, { kind: "epoch", epoch: 5, tracker: 1 }, 5), ok());
  log.applied(entry(103, leave("carol"), 5), ok({ deleted: false }));
  // The same index in another epoch (e.g. an entry a dead primary never committed).
  const other = log.since(102, 4);
  assert.deepEqual(other.revocations.map((r) => r.index), [101, 103]);
  assert.deepEqual([other.floor, other.floorEp], [100, 3], "and grants from before this log void");
  // Further than this log goes (the watcher followed a primary that is gone).
  assert.deepEqual(log.since(500, 5).revocations.map((r) => r.index), [101, 103]);
  // A position this log holds: only what came after, no floor.
  const known = log.since(102, 5);
  assert.deepEqual(known.revocations.map((r) => r.index), [103]);
  assert.equal(known.floor, 0);
  assert.deepEqual(log.since(101, 3).revocations.map((r) => r.index), [103]);
});

Deno.test("RevocationLog: a watcher asking from before what is kept gets a floor", () => {
  const log = new RevocationLog();
  log.reset(100, 1);
  assert.equal(log.since(-1, 0).floor, 100);
  assert.equal(log.since(99, 1).floor, 100);
  assert.equal(log.since(100, 1).floor, 0);
  for (let i = 1; i <= REVOCATIONS_KEPT + 10; i++) {
    log.applied(entry(100 + i, leave(`u${i}`)), ok({}));
  }
  const late = log.since(100, 1);
  assert.equal(late.floor, 110);
  assert.equal(late.floorEp, 1);
  log.reset(9000, 2);
  assert.equal(log.since(8999, 1).floor, 9000);
  assert.equal(log.index, 9000);
});
