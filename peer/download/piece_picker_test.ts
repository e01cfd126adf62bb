import assert from "node:assert/strict";
import fc from "fast-check";
import { emptyBitfield, hasBit, setBit } from "../../shared/bitfield.ts";
import { availabilityOf, minOf, type PickInput, pickPiece } from "./piece_picker.ts";
import { prng as seeded } from "../../tests/_prng.ts";

/** A bitfield of `n` pieces with `pieces` set. */
function bits(n: number, pieces: Iterable<number>): Uint8Array {
  const b = emptyBitfield(n);
  for (const p of pieces) setBit(b, p);
  return b;
}

/** A picker input for `n` pieces: nothing owned, peer has all, nothing in flight. */
function input(n: number, over: Partial<PickInput> = {}): PickInput {
  return {
    n,
    mine: emptyBitfield(n),
    peerHas: null,
    availability: new Uint32Array(n).fill(1),
    inFlight: new Map(),
    fromPeer: new Set(),
    random: seeded(1),
    ...over,
  };
}

Deno.test("pickPiece() picks the rarest piece the peer has", () => {
  const availability = Uint32Array.from([3, 2, 5, 1, 4, 2]);
  assert.equal(pickPiece(input(6, { availability })), 3);
  // The rarest piece of all is not on this peer: the rarest of its pieces is chosen.
  assert.equal(pickPiece(input(6, { availability, peerHas: bits(6, [0, 1, 2, 4]) })), 1);
  // We already have the rarest one: one of the two next rarest.
  const p = pickPiece(input(6, { availability, mine: bits(6, [3]) }));
  assert.ok(p === 1 || p === 5, `picked ${p}`);
});

Deno.test("pickPiece() chooses evenly among equally rare pieces", () => {
  const n = 12;
  const tied = [1, 4, 7, 10];
  const availability = new Uint32Array(n).fill(3);
  for (const p of tied) availability[p] = 1;
  const random = seeded(42);
  const counts = new Map<number, number>();
  const draws = 8000;
  for (let i = 0; i < draws; i++) {
    const p = pickPiece(input(n, { availability, random }));
    counts.set(p, (counts.get(p) ?? 0) + 1);
  }
  assert.deepEqual([...counts.keys()].sort((a, b) => a - b), tied);
  for (const p of tied) {
    const share = counts.get(p)! / draws;
    assert.ok(Math.abs(share - 1 / tied.length) < 0.03, `piece ${p} drawn ${share}`);
  }
});

Deno.test("pickPiece() with Math.random reaches every tied piece", () => {
  const n = 40;
  const seen = new Set<number>();
  for (let i = 0; i < 3000 && seen.size < n; i++) {
    seen.add(pickPiece(input(n, { random: Math.random })));
  }
  assert.equal(seen.size, n);
});

Deno.test("pickPiece() with a window breaks ties among the first equally rare pieces only", () => {
  const n = 20;
  const availability = new Uint32Array(n).fill(2);
  availability[0] = 5;
  const random = seeded(7);
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    seen.add(pickPiece(input(n, { availability, random, window: 4, mine: bits(n, [2]) })));
  }
  assert.deepEqual([...seen].sort((a, b) => a - b), [1, 3, 4, 5]);
  // A rarer piece after the window still wins.
  availability[17] = 1;
  assert.equal(pickPiece(input(n, { availability, random, window: 4 })), 17);
});

Deno.test("pickPiece() never picks a piece we have or the peer lacks", () => {
  const n = 10;
  const mine = bits(n, [0, 1, 2, 3]);
  const peerHas = bits(n, [2, 3, 4, 5, 9]);
  const random = seeded(3);
  for (let i = 0; i < 500; i++) {
    const p = pickPiece(input(n, { mine, peerHas, random }));
    assert.ok([4, 5, 9].includes(p), `picked ${p}`);
  }
});

Deno.test("pickPiece() prefers a piece nobody was asked for over one in flight", () => {
  const n = 4;
  const availability = Uint32Array.from([1, 1, 9, 1]);
  const inFlight = new Map([[0, 1], [1, 1], [3, 2]]);
  assert.equal(pickPiece(input(n, { availability, inFlight })), 2);
});

Deno.test("pickPiece() in end-game asks again for a piece in flight elsewhere, not on this peer", () => {
  const n = 6;
  const mine = bits(n, [0, 1]);
  const inFlight = new Map([[2, 1], [3, 1], [4, 1], [5, 1]]);
  const fromPeer = new Set([2, 3, 5]);
  assert.equal(pickPiece(input(n, { mine, inFlight, fromPeer })), 4);
  // Among those, the one with the fewest requests out.
  const loaded = new Map([[2, 3], [3, 1], [4, 2], [5, 2]]);
  assert.equal(pickPiece(input(n, { mine, inFlight: loaded, fromPeer: new Set([3]) })), 4);
  // Not a piece this peer lacks.
  assert.equal(
    pickPiece(input(n, { mine, inFlight, fromPeer: new Set([2, 3]), peerHas: bits(n, [2, 3]) })),
    -1,
  );
});

Deno.test("pickPiece() returns -1 when the peer has nothing we still need", () => {
  assert.equal(pickPiece(input(0)), -1);
  assert.equal(pickPiece(input(5, { mine: bits(5, [0, 1, 2, 3, 4]) })), -1);
  assert.equal(pickPiece(input(5, { peerHas: bits(5, []) })), -1);
  assert.equal(pickPiece(input(5, { mine: bits(5, [0, 1]), peerHas: bits(5, [0, 1]) })), -1);
  const inFlight = new Map([[0, 1], [1, 1]]);
  assert.equal(
    pickPiece(input(2, { inFlight, fromPeer: new Set([0, 1]) })),
    -1,
    "everything missing is already asked of this peer",
  );
});

Deno.test("availabilityOf() counts the peers that have each piece; null means all", () => {
  const n = 11;
  const a = availabilityOf(n, [bits(n, [0, 3, 10]), null, bits(n, [3, 8]), emptyBitfield(n)]);
  assert.deepEqual([...a], [2, 1, 1, 3, 1, 1, 1, 1, 2, 1, 2]);
  assert.deepEqual([...availabilityOf(3, [])], [0, 0, 0]);
  // Piece 0 is the high bit of byte 0.
  assert.deepEqual([...availabilityOf(9, [Uint8Array.from([0x80, 0x80])])], [
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    1,
  ]);
});

Deno.test("pickPiece() property: rarest fresh piece first, else end-game, else -1", () => {
  const arb = fc.integer({ min: 0, max: 40 }).chain((n) =>
    fc.record({
      n: fc.constant(n),
      mine: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
      peerHas: fc.option(fc.array(fc.boolean(), { minLength: n, maxLength: n })),
      availability: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: n, maxLength: n }),
      load: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: n, maxLength: n }),
      asked: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
      seed: fc.integer(),
    })
  );
  fc.assert(
    fc.property(arb, (c) => {
      const pieces = [...Array(c.n).keys()];
      const mine = bits(c.n, pieces.filter((p) => c.mine[p]));
      const peerHas = c.peerHas === null ? null : bits(c.n, pieces.filter((p) => c.peerHas![p]));
      const inFlight = new Map(pieces.filter((p) => c.load[p]! > 0).map((p) => [p, c.load[p]!]));
      const fromPeer = new Set(pieces.filter((p) => c.asked[p] && c.load[p]! > 0));
      const availability = Uint32Array.from(c.availability);
      const p = pickPiece({
        n: c.n,
        mine,
        peerHas,
        availability,
        inFlight,
        fromPeer,
        random: seeded(c.seed),
      });
      const wanted = pieces.filter((q) =>
        !hasBit(mine, q) && (peerHas === null || hasBit(peerHas, q))
      );
      const fresh = wanted.filter((q) => !inFlight.has(q));
      const endgame = wanted.filter((q) => inFlight.has(q) && !fromPeer.has(q));
      if (fresh.length > 0) {
        assert.ok(fresh.includes(p), `picked ${p}, not a fresh piece`);
        assert.equal(availability[p], Math.min(...fresh.map((q) => availability[q]!)));
      } else if (endgame.length > 0) {
        assert.ok(endgame.includes(p), `picked ${p} in end-game`);
        assert.equal(inFlight.get(p), Math.min(...endgame.map((q) => inFlight.get(q)!)));
      } else {
        assert.equal(p, -1);
      }
    }),
    { numRuns: 500 },
  );
});

Deno.test("pickPiece() picks the same piece when it may skip the run we have and stop at the least availability", () => {
  const arb = fc.integer({ min: 0, max: 80 }).chain((n) =>
    fc.record({
      n: fc.constant(n),
      // Pieces we have come mostly in a run from the start, as in a real download.
      prefix: fc.integer({ min: 0, max: n }),
      mine: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
      availability: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: n, maxLength: n }),
      load: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: n, maxLength: n }),
      window: fc.integer({ min: 1, max: 8 }),
      seed: fc.integer(),
    })
  );
  fc.assert(
    fc.property(arb, (c) => {
      const pieces = [...Array(c.n).keys()];
      const mine = bits(c.n, pieces.filter((p) => p < c.prefix || c.mine[p]));
      const availability = Uint32Array.from(c.availability);
      const inFlight = new Map(pieces.filter((p) => c.load[p]! > 0).map((p) => [p, c.load[p]!]));
      const base = {
        n: c.n,
        mine,
        peerHas: null,
        availability,
        inFlight,
        fromPeer: new Set<number>(),
      };
      const full = pickPiece({ ...base, window: c.window, random: seeded(c.seed) });
      const early = pickPiece({
        ...base,
        window: c.window,
        random: seeded(c.seed),
        minAvailability: minOf(availability),
        haveBefore: Math.min(c.prefix, c.n),
      });
      assert.equal(early, full);
    }),
    { numRuns: 1000 },
  );
});

Deno.test("minOf() is the least availability, 0 for no pieces", () => {
  assert.equal(minOf(Uint32Array.from([3, 1, 2])), 1);
  assert.equal(minOf(new Uint32Array(0)), 0);
});
