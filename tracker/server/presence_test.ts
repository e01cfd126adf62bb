import assert from "node:assert/strict";
import { ok } from "../state/ops.ts";
import { Presence } from "./presence.ts";
import { TrackerState } from "../state/state.ts";

function setup() {
  const state = new TrackerState();
  state.groups.set("g1", {
    id: "g1",
    owner: "alice",
    members: ["alice", "bob"],
    pending: [],
    created: 0,
  });
  state.sessions.set("ta", { token: "ta", user: "alice", addr: "127.0.0.1:1", at: 0 });
  state.sessionByUser.set("alice", "ta");
  let now = 0;
  const p = new Presence(() => state, () => now);
  p.reset(state);
  return { state, p, advance: (ms: number) => now += ms };
}

Deno.test("Presence: a held watch is answered as soon as a revocation concerning the watcher is applied", async () => {
  const { p } = setup();
  const t0 = performance.now();
  const held = p.watch("ta", { since: 0, sinceEpoch: 0, intervalMs: 60_000 });
  await new Promise((r) => setTimeout(r, 20));
  p.applied(
    { index: 1, epoch: 1, op: { kind: "leave_group", user: "bob", group: "g1" } },
    ok({ deleted: false }),
  );
  const answer = await held;
  assert.ok(performance.now() - t0 < 1000, "answered at once, not after the hold");
  assert.deepEqual(answer.revocations, [{ index: 1, ep: 1, user: "bob", group: "g1" }]);
  assert.equal(answer.epoch, 1);
  assert.equal(answer.index, 1);
});

Deno.test("Presence: a watch with nothing new is held for half its interval (at most 2 s), and keeps the session online", async () => {
  const { p, state, advance } = setup();
  const t0 = performance.now();
  const answer = await p.watch("ta", { since: 0, sinceEpoch: 0, intervalMs: 300 });
  assert.ok(performance.now() - t0 >= 140, "held for half the interval");
  assert.deepEqual(answer.revocations, []);
  const session = state.sessions.get("ta")!;
  assert.equal(p.online(session), true);
  advance(899);
  assert.equal(p.online(session), true);
  advance(1);
  assert.equal(p.online(session), false);
  p.heard("ta");
  assert.equal(p.online(session), true);
  p.lost("ta");
  assert.equal(p.online(session), false);
});

Deno.test("Presence: after a promotion every session is online for one lease", () => {
  const { p, state, advance } = setup();
  const session = state.sessions.get("ta")!;
  assert.equal(p.online(session), false);
  p.promoted();
  assert.equal(p.online(session), true);
  advance(3000);
  assert.equal(p.online(session), false);
});
