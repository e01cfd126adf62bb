/**
 * SHA-1 of pieces (`crypto.subtle`) and of whole files (`node:crypto`,
 * streaming, fed one piece at a time), reading each file once in bounded memory.
 */
import { createHash } from "node:crypto";
import { bytesToHex } from "./hex.ts";

/** Piece digests computed at once while a file is read. */
const DIGESTS_IN_FLIGHT = 4;

/** SHA-1 of `data` as hex. */
export async function sha1Hex(data: Uint8Array<ArrayBuffer>): Promise<string> {
  return bytesToHex(new Uint8Array(await crypto.subtle.digest("SHA-1", data)));
}

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
export async function hashFile(
  path: string,
  pieceSize: number,
  onProgress?: (done: number, size: number) => void,
): Promise<FileHashes> {
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
    onProgress?.(done, size);
  }
  for (const d of digests) hex.push(bytesToHex(new Uint8Array(await d)));
  return { size, pieces: hex.join(""), sha1: whole.digest("hex") };
}

/** Reads exactly `buf.length` bytes; throws if the file ends first. */
export async function readFully(file: Deno.FsFile, buf: Uint8Array): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const n = await file.read(buf.subarray(off));
    if (n === null) throw new Error("File ended before the expected size (did it change?)");
    off += n;
  }
}

/** Reads exactly `buf.length` bytes synchronously; throws if the file ends first. */
export function readFullySync(file: Deno.FsFile, buf: Uint8Array): void {
  let off = 0;
  while (off < buf.length) {
    const n = file.readSync(buf.subarray(off));
    if (n === null) throw new Error("File ended before the expected size (did it change?)");
    off += n;
  }
}
