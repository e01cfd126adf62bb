/**
 * The hashes of a file to share: SHA-1 of every piece (`crypto.subtle`) and
 * of the whole file (`node:crypto`, streaming, fed one piece at a time),
 * reading the file once in bounded memory. It runs in the verify host
 * (see verify_host.ts).
 */
import { createHash } from "node:crypto";
import { bytesToHex } from "../../shared/hex.ts";
import { readFully } from "../../shared/read_fully.ts";

/** Piece digests computed at once while a file is read. */
const DIGESTS_IN_FLIGHT = 4;

/** The hashes of a file. */
export interface FileHashes {
  size: number;
  /** Hex SHA-1 of every piece, concatenated. */
  pieces: string;
  /** Hex SHA-1 of the whole file; equals `sha1sum`. */
  sha1: string;
}

/**
 * Reads `path` once and returns the SHA-1 of every `pieceSize` piece and of the
 * whole file. Memory stays at one piece buffer plus a few digests in flight.
 */
export async function hashFile(path: string, pieceSize: number): Promise<FileHashes> {
  using file = await Deno.open(path, { read: true });
  const size = (await file.stat()).size;
  const whole = createHash("sha1");
  const buf = new Uint8Array(pieceSize);
  const digests: Promise<ArrayBuffer>[] = [];
  const hex: string[] = [];
  let done = 0;
  while (done < size) {
    const len = Math.min(pieceSize, size - done);
    const piece = buf.subarray(0, len);
    await readFully(file, piece);
    whole.update(piece);
    // digest() copies its input when called, so the buffer can be reused at once.
    digests.push(crypto.subtle.digest("SHA-1", piece));
    if (digests.length >= DIGESTS_IN_FLIGHT) {
      hex.push(bytesToHex(new Uint8Array(await digests.shift()!)));
    }
    done += len;
  }
  for (const d of digests) hex.push(bytesToHex(new Uint8Array(await d)));
  return { size, pieces: hex.join(""), sha1: whole.digest("hex") };
}
