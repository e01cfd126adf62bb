/**
 * The SHA-1 of one piece, with `crypto.subtle`: how a transfer worker checks
 * a piece it received against the file's list. Kept apart from the peer's
 * whole-file hashing (peer/verify/file_hashes.ts) so that transfer workers do
 * not load `node:crypto` (about 5 MiB per worker).
 */
import { bytesToHex } from "./hex.ts";

/** SHA-1 of `data` as hex. */
export async function sha1Hex(data: Uint8Array<ArrayBuffer>): Promise<string> {
  return bytesToHex(new Uint8Array(await crypto.subtle.digest("SHA-1", data)));
}
