/** Piece bitfields: piece 0 is the high bit of byte 0. */

/** A bitfield with room for `n` pieces, all clear. */
export function emptyBitfield(n: number): Uint8Array {
  return new Uint8Array(Math.ceil(n / 8));
}

/** A bitfield of `n` pieces, all set. */
export function fullBitfield(n: number): Uint8Array {
  const b = emptyBitfield(n);
  for (let p = 0; p < n; p++) setBit(b, p);
  return b;
}

/** True when piece `p` is set. */
export function hasBit(b: Uint8Array, p: number): boolean {
  return ((b[p >> 3] ?? 0) & (0x80 >> (p & 7))) !== 0;
}

/** Sets piece `p`. */
export function setBit(b: Uint8Array, p: number): void {
  b[p >> 3]! |= 0x80 >> (p & 7);
}

/** How many of the first `n` pieces are set. */
export function countBits(b: Uint8Array, n: number): number {
  let c = 0;
  for (let p = 0; p < n; p++) if (hasBit(b, p)) c++;
  return c;
}

/** A new bitfield, as long as `a`, with every piece set that is set in `a` or `b`. */
export function unionBits(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a);
  for (let i = 0; i < out.length && i < b.length; i++) out[i]! |= b[i]!;
  return out;
}
