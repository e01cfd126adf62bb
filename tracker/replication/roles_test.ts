import assert from "node:assert/strict";
import fc from "fast-check";
import {
  afterDialFailure,
  type DialDecision,
  type DialFailure,
  nextEpoch,
  type Role,
  rolesDisagree,
  shouldLead,
  type TrackerView,
} from "./roles.ts";

function view(n: 1 | 2, role: Role, epoch: number, index = 10, lastEpoch = epoch): TrackerView {
  return { n, role, epoch, index, lastEpoch };
}

const roleArb = fc.constantFrom<Role>("starting", "primary", "secondary");
const viewArb = (n: 1 | 2) =>
  fc.record({
    n: fc.constant(n),
    role: roleArb,
    epoch: fc.nat(6),
    index: fc.nat(6),
    lastEpoch: fc.nat(6),
  });

Deno.test("shouldLead() picks exactly one of two trackers for any pair of views", () => {
  fc.assert(
    fc.property(fc.boolean(), viewArb(1), viewArb(2), (swap, one, two) => {
      // Tracker 1 uses odd epochs and tracker 2 even ones: two primaries never share an epoch.
      fc.pre(!(one.role === "primary" && two.role === "primary" && one.epoch === two.epoch));
      const [a, b] = swap ? [two, one] : [one, two];
      assert.notEqual(shouldLead(a, b), shouldLead(b, a), JSON.stringify({ a, b }));
    }),
    { numRuns: 5000 },
  );
});

Deno.test("shouldLead() keeps a primary against a secondary or a starting tracker of its epoch", () => {
  for (const other of ["secondary", "starting"] as const) {
    // Even when the other has the longer log of a later entry epoch.
    const primary = view(2, "primary", 4, 3, 2);
    const rival = view(1, other, 4, 9, 3);
    assert.equal(shouldLead(primary, rival), true, other);
    assert.equal(shouldLead(rival, primary), false, other);
    assert.equal(shouldLead(view(1, "primary", 5), view(2, other, 3)), true, other);
  }
});

Deno.test("shouldLead() makes a stale primary yield to a primary of a higher epoch", () => {
  const stale = view(1, "primary", 3, 50, 3);
  const fresh = view(2, "primary", 4, 20, 4);
  assert.equal(shouldLead(stale, fresh), false);
  assert.equal(shouldLead(fresh, stale), true);
  assert.equal(shouldLead(view(2, "primary", 2, 50), view(1, "primary", 5, 1)), false);
});

Deno.test("shouldLead() does not keep a primary that knows an older epoch than the other", () => {
  // The other knows epoch 6: this primary may be stale, so the logs decide.
  const primary = view(1, "primary", 5, 10, 5);
  assert.equal(shouldLead(primary, view(2, "secondary", 6, 10, 6)), false);
  assert.equal(shouldLead(primary, view(2, "secondary", 6, 10, 4)), true);
});

Deno.test("shouldLead() gives the lead to the more recent log when no primary decides", () => {
  const cases: [TrackerView, TrackerView][] = [
    // A later epoch of the last entry beats a longer log.
    [view(2, "starting", 4, 5, 4), view(1, "starting", 4, 90, 3)],
    // Same last epoch: the longer log wins.
    [view(2, "secondary", 4, 12, 4), view(1, "starting", 4, 11, 4)],
    [view(2, "starting", 1, 1, 1), view(1, "secondary", 1, 0, 0)],
  ];
  for (const [winner, loser] of cases) {
    assert.equal(shouldLead(winner, loser), true, JSON.stringify(winner));
    assert.equal(shouldLead(loser, winner), false, JSON.stringify(loser));
  }
});

Deno.test("shouldLead() breaks a tie in favour of tracker 1", () => {
  for (const role of ["starting", "secondary"] as const) {
    assert.equal(shouldLead(view(1, role, 3, 7, 3), view(2, role, 3, 7, 3)), true);
    assert.equal(shouldLead(view(2, role, 3, 7, 3), view(1, role, 3, 7, 3)), false);
  }
  assert.equal(shouldLead(view(1, "starting", 0, 0, 0), view(2, "starting", 0, 0, 0)), true);
});

Deno.test("nextEpoch() gives odd epochs to tracker 1 and even ones to tracker 2, above its argument", () => {
  fc.assert(
    fc.property(fc.nat(1_000_000), fc.constantFrom<1 | 2>(1, 2), (above, n) => {
      const e = nextEpoch(above, n);
      assert.ok(e > above && e <= above + 2, `${e} after ${above}`);
      assert.equal(e % 2, n % 2);
    }),
  );
  assert.deepEqual([nextEpoch(0, 1), nextEpoch(0, 2), nextEpoch(1, 1), nextEpoch(1, 2)], [
    1,
    2,
    3,
    2,
  ]);
});

const failure = (over: Partial<DialFailure>): DialFailure => ({
  role: "starting",
  lastRole: null,
  linked: false,
  syncing: false,
  refused: false,
  now: 10_000,
  startedAt: 10_000,
  lostAt: 0,
  graceMs: 300,
  startWaitMs: 3000,
  ...over,
});

Deno.test("afterDialFailure() decides who takes over when the other cannot be reached", () => {
  const cases: [string, Partial<DialFailure>, DialDecision][] = [
    ["a new tracker alone", {}, { do: "promote" }],
    ["one that was primary", { lastRole: "primary" }, { do: "promote" }],
    ["one that was secondary, early", { lastRole: "secondary", now: 12_000 }, {
      do: "wait_at_start",
    }],
    ["one that was secondary, after the wait", { lastRole: "secondary", now: 13_000 }, {
      do: "promote",
    }],
    ["a link is up anyway", { linked: true }, { do: "wait" }],
    ["catching up", { syncing: true }, { do: "wait_catching_up" }],
    ["catching up, linked", { syncing: true, linked: true }, { do: "wait_catching_up" }],
    ["a primary catching up (forced)", { role: "primary", syncing: true }, { do: "wait" }],
    ["a primary alone", { role: "primary" }, { do: "wait" }],
    ["a secondary that just lost the link", { role: "secondary" }, { do: "wait", lostAt: 10_000 }],
    ["a secondary in its grace", { role: "secondary", lostAt: 9_800 }, {
      do: "wait",
      lostAt: 9_800,
    }],
    ["a secondary past its grace", { role: "secondary", lostAt: 9_700 }, { do: "promote" }],
    ["a secondary refused", { role: "secondary", refused: true }, { do: "promote" }],
  ];
  for (const [what, over, want] of cases) {
    assert.deepEqual(afterDialFailure(failure(over)), want, what);
  }
});

Deno.test("rolesDisagree() holds unless one is primary and the other secondary of no later epoch", () => {
  assert.equal(rolesDisagree({ role: "primary", epoch: 3 }, view(2, "secondary", 3)), false);
  assert.equal(rolesDisagree({ role: "secondary", epoch: 3 }, view(1, "primary", 3)), false);
  assert.equal(rolesDisagree({ role: "primary", epoch: 3 }, view(2, "secondary", 4)), true);
  assert.equal(rolesDisagree({ role: "primary", epoch: 3 }, view(2, "primary", 2)), true);
  assert.equal(rolesDisagree({ role: "secondary", epoch: 3 }, view(1, "secondary", 3)), true);
  assert.equal(rolesDisagree({ role: "starting", epoch: 3 }, view(1, "primary", 3)), true);
});
