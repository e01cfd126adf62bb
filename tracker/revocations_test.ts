import assert from "node:assert/strict";
import { fail, type LogEntry, ok, type Op, type Result } from "./ops.ts";
import { RevocationLog, REVOCATIONS_KEPT, revocationsOf } from "./revocations.ts";
import { TrackerState } from "./state.ts";

const entry = (index: number, op: Op): LogEntry => ({ index, epoch: 1, op });

Deno.test("revocationsOf: logout, leave_group and a file leaving the group revoke; the rest do not", () => {
  const cases: [Op, Result, unknown[]][] = [
    [{ kind: "logout", token: "t" }, ok({ user: "bob" }), [{ index: 7, user: "bob" }]],
    [
      { kind: "leave_group", user: "bob", group: "g1" },
      ok({ group: "g1", deleted: false }),
      [{ index: 7, user: "bob", group: "g1" }],
    ],
    [
      { kind: "leave_group", user: "bob", group: "g1" },
      ok({ group: "g1", deleted: true }),
      [{ index: 7, group: "g1" }],
    ],
    [
      { kind: "stop_share", user: "a", group: "g1", name: "f" },
      ok({ removed: true }),
      [{ index: 7, group: "g1", name: "f" }],
    ],
    [{ kind: "stop_share", user: "a", group: "g1", name: "f" }, ok({ removed: false }), []],
    [{ kind: "logout", token: "t" }, fail("not logged in"), []],
    [{ kind: "join_group", user: "bob", group: "g1" }, ok({}), []],
  ];
  for (const [op, result, want] of cases) {
    assert.deepEqual(revocationsOf(entry(7, op), result), want, JSON.stringify(op));
  }
});

function stateWith(groups: Record<string, string[]>): TrackerState {
  const s = new TrackerState();
  for (const [id, members] of Object.entries(groups)) {
    s.groups.set(id, { id, owner: members[0]!, members, pending: [], created: 0 });
  }
  return s;
}

Deno.test("RevocationLog.since tells a watcher only what concerns its groups", () => {
  const log = new RevocationLog(0);
  const state = stateWith({ g1: ["alice", "carol"], g2: ["dan"] });
  log.applied(entry(1, { kind: "leave_group", user: "bob", group: "g1" }), ok({ deleted: false }));
  log.applied(entry(2, { kind: "leave_group", user: "eve", group: "g2" }), ok({ deleted: false }));
  log.applied(entry(3, { kind: "logout", token: "t" }), ok({ user: "carol" }));
  log.applied(entry(4, { kind: "logout", token: "u" }), ok({ user: "zed" }));
  const a = log.since(0, "alice", state);
  assert.deepEqual(a.revocations.map((r) => r.index), [1, 3]);
  assert.equal(a.index, 4);
  assert.equal(a.floor, 0);
  assert.deepEqual(log.since(1, "alice", state).revocations.map((r) => r.index), [3]);
  assert.deepEqual(log.since(0, "dan", state).revocations.map((r) => r.index), [2]);
});

Deno.test("RevocationLog: a watcher asking from before what is kept gets a floor", () => {
  const log = new RevocationLog(100);
  const state = stateWith({ g1: ["alice"] });
  assert.equal(log.since(-1, "alice", state).floor, 100);
  assert.equal(log.since(99, "alice", state).floor, 100);
  assert.equal(log.since(100, "alice", state).floor, 0);
  for (let i = 1; i <= REVOCATIONS_KEPT + 10; i++) {
    log.applied(entry(100 + i, { kind: "leave_group", user: `u${i}`, group: "g1" }), ok({}));
  }
  const late = log.since(100, "alice", state);
  assert.equal(late.floor, 110);
  log.reset(9000);
  assert.equal(log.since(8999, "alice", state).floor, 9000);
  assert.equal(log.index, 9000);
});
