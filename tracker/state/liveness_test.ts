import assert from "node:assert/strict";
import { DEFAULT_KEEPALIVE_MS, LEASE_INTERVALS, Liveness } from "./liveness.ts";

Deno.test("Liveness: a session is offline after three of its intervals without a word", () => {
  const l = new Liveness();
  l.heard("t", 0, 500);
  assert.equal(l.online("t", LEASE_INTERVALS * 500 - 1), true);
  assert.equal(l.online("t", LEASE_INTERVALS * 500), false);
  // Back at once when it speaks again, with the interval it said before.
  l.heard("t", 5000);
  assert.equal(l.online("t", 5000 + LEASE_INTERVALS * 500 - 1), true);
  assert.equal(l.online("t", 5000 + LEASE_INTERVALS * 500), false);
});

Deno.test("Liveness: a session never heard from is offline; one without an interval gets the default", () => {
  const l = new Liveness();
  assert.equal(l.online("never", 0), false);
  l.heard("t", 0);
  assert.equal(l.online("t", LEASE_INTERVALS * DEFAULT_KEEPALIVE_MS - 1), true);
  assert.equal(l.online("t", LEASE_INTERVALS * DEFAULT_KEEPALIVE_MS), false);
});

Deno.test("Liveness: a closed watching connection makes the session offline at once", () => {
  const l = new Liveness();
  l.heard("t", 0, 1000);
  l.lost("t", 10);
  assert.equal(l.online("t", 10), false);
  l.heard("t", 20);
  assert.equal(l.online("t", 20), true);
});

Deno.test("Liveness.graceAll gives every session one lease from the failover", () => {
  const l = new Liveness();
  l.heard("slow", 0, 2000);
  l.graceAll(["slow", "unknown"], 100_000);
  assert.equal(l.online("slow", 100_000 + LEASE_INTERVALS * 2000 - 1), true);
  assert.equal(l.online("unknown", 100_000 + LEASE_INTERVALS * DEFAULT_KEEPALIVE_MS - 1), true);
  assert.equal(l.online("unknown", 100_000 + LEASE_INTERVALS * DEFAULT_KEEPALIVE_MS), false);
  l.forget("slow");
  assert.equal(l.online("slow", 100_001), false);
  assert.equal(l.onlineCount(100_001), 1);
});

Deno.test("Liveness.prune forgets the leases of tokens that are no longer sessions", () => {
  const l = new Liveness();
  for (const t of ["a", "b", "c"]) l.heard(t, 0);
  l.prune((t) => t !== "b");
  assert.equal(l.size, 2);
  assert.equal(l.online("b", 1), false);
  assert.equal(l.online("a", 1), true);
});
