/**
 * The SHA-1 of one piece, with `crypto.subtle`. Kept apart from
 * {@link ./hashing.ts} so that transfer workers do not load `node:crypto`
 * (about 5 MiB per worker).
 */
import { bytesToHex } from "./hex.ts";

/** SHA-1 of `data` as hex. */
export async function sha1Hex(data: Uint8Array<ArrayBuffer>): Promise<string> {
  return bytesToHex(new Uint8Array(await crypto.subtle.digest("SHA-1", data)));
}
