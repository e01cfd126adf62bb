import assert from "node:assert/strict";
import type { Grant } from "../../shared/grant.ts";
import { KEEP_MS, RevokedGrants } from "./revoked_grants.ts";

const grant = (over: Partial<Grant> = {}): Grant => ({
  user: "bob",
  group: "g1",
  name: "a.bin",
  sha1: "0".repeat(40),
  exp: 1e15,
  idx: 10,
  ...over,
});

Deno.test("RevokedGrants voids matching grants issued before the revocation only", () => {
  const r = new RevokedGrants();
  r.add({ revocations: [{ index: 20, user: "bob", group: "g1" }], floor: 0 }, 0);
  const cases: [Partial<Grant>, boolean][] = [
    [{}, true],
    [{ idx: 19 }, true],
    [{ idx: 20 }, false], // issued after the leave was applied: a new membership
    [{ user: "carol" }, false],
    [{ group: "g2" }, false],
    [{ name: "b.bin" }, true],
    [{ idx: undefined }, true], // a grant from before indexes counts as issued at 0
  ];
  for (const [over, voided] of cases) {
    assert.equal(r.voids(grant(over)), voided, JSON.stringify(over));
  }
});

Deno.test("RevokedGrants: a user revocation (logout) covers every group; a file revocation every user", () => {
  const r = new RevokedGrants();
  r.add({
    revocations: [{ index: 20, user: "bob" }, { index: 30, group: "g2", name: "x.iso" }],
    floor: 0,
  }, 0);
  assert.equal(r.voids(grant({ group: "g9" })), true);
  assert.equal(r.voids(grant({ user: "dan", group: "g2", name: "x.iso", idx: 25 })), true);
  assert.equal(r.voids(grant({ user: "dan", group: "g2", name: "y.iso", idx: 25 })), false);
});

Deno.test("RevokedGrants: a floor voids every grant issued before it", () => {
  const r = new RevokedGrants();
  r.add({ revocations: [], floor: 50 }, 0);
  assert.equal(r.voids(grant({ idx: 49 })), true);
  assert.equal(r.voids(grant({ idx: 50 })), false);
});

Deno.test("RevokedGrants forgets a revocation once every grant it voids has expired", () => {
  const r = new RevokedGrants();
  r.add({ revocations: [{ index: 20, user: "bob" }], floor: 0 }, 0);
  r.add({ revocations: [], floor: 0 }, KEEP_MS - 1);
  assert.equal(r.voids(grant()), true);
  r.add({ revocations: [], floor: 0 }, KEEP_MS + 1);
  assert.equal(r.voids(grant()), false);
});

Deno.test("RevokedGrants: after a split brain, a revocation of the higher epoch voids the lower epoch's later-numbered grants", () => {
  const r = new RevokedGrants();
  r.add({ revocations: [{ index: 1200, ep: 4, user: "bob" }], floor: 0 }, 0);
  assert.equal(r.voids(grant({ idx: 1400, ep: 3 })), true, "issued by the losing side");
  assert.equal(r.voids(grant({ idx: 1100, ep: 4 })), true);
  assert.equal(r.voids(grant({ idx: 1300, ep: 4 })), false, "issued after the revocation");
});
