import assert from "node:assert/strict";
import type { Grant } from "../../shared/grant.ts";
import { positionSerial } from "../../shared/tls/serial.ts";
import { KEEP_MS, RevokedGrants } from "./revoked_grants.ts";

const grant = (over: Partial<Grant> = {}): Grant => ({
  user: "bob",
  id: "a2V5",
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

Deno.test("RevokedGrants voids the identities of a logged-out user issued before the logout only", () => {
  const r = new RevokedGrants();
  r.add({
    revocations: [{ index: 20, ep: 1, user: "bob" }, {
      index: 30,
      ep: 1,
      user: "carol",
      group: "g1",
    }],
    floor: 0,
  }, 0);
  const cert = (name: string, ep: number, idx: number) => ({
    name,
    serial: positionSerial({ ep, idx }),
  });
  assert.equal(r.voidsIdentity(cert("bob", 1, 19)), true);
  assert.equal(r.voidsIdentity(cert("bob", 0, 99)), true); // an earlier epoch comes before
  assert.equal(r.voidsIdentity(cert("bob", 1, 20)), false); // certified at a later login
  assert.equal(r.voidsIdentity(cert("alice", 1, 19)), false);
  // Leaving a group ends the grants of that group, not the identity.
  assert.equal(r.voidsIdentity(cert("carol", 1, 19)), false);
  // A serial that names no log position is never void.
  assert.equal(r.voidsIdentity({ name: "bob", serial: "0a01" }), false);
});
