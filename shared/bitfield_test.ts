import assert from "node:assert/strict";
import { countBits, emptyBitfield, fullBitfield, hasBit, setBit, unionBits } from "./bitfield.ts";

Deno.test("bitfield: piece 0 is the high bit of byte 0, and counts see only the first n pieces", () => {
  const b = emptyBitfield(10);
  assert.equal(b.length, 2);
  setBit(b, 0);
  setBit(b, 9);
  assert.deepEqual([...b], [0x80, 0x40]);
  assert.ok(hasBit(b, 9) && !hasBit(b, 8) && !hasBit(b, 100));
  assert.equal(countBits(fullBitfield(10), 10), 10);
  assert.equal(countBits(b, 9), 1);
});

Deno.test("unionBits() sets what either has, keeps the first's length and changes neither", () => {
  const a = Uint8Array.of(0b1000_0001, 0);
  const b = Uint8Array.of(0b0100_0000, 0b1000_0000, 0xff);
  const u = unionBits(a, b);
  assert.deepEqual([...u], [0b1100_0001, 0b1000_0000]);
  assert.deepEqual([...a], [0b1000_0001, 0]);
  assert.deepEqual([...unionBits(a, new Uint8Array(0))], [...a]);
});
