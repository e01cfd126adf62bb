/**
 * Files for tests and benchmarks: random contents with their SHA-1,
 * byte-for-byte comparison, a peer's recorded downloads, and `list_files` rows.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { PeerDb } from "../../peer/store/peer_db.ts";
import { countBits } from "../../shared/bitfield.ts";

/** Bytes read or written at a time. */
const CHUNK = 1024 * 1024;
/** The most `crypto.getRandomValues` fills at once. */
const RANDOM_MAX = 65536;

/** A file ended before the bytes asked for. */
export class ShortFileError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ShortFileError";
  }
}

/** Fills `buf` with random bytes. */
function fillRandom(buf: Uint8Array): void {
  for (let i = 0; i < buf.length; i += RANDOM_MAX) {
    crypto.getRandomValues(buf.subarray(i, i + RANDOM_MAX));
  }
}

/** `size` random bytes. */
export function randomBytes(size: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  fillRandom(out);
  return out;
}

/**
 * Writes `size` random bytes to `path`; returns their SHA-1 (hex). With
 * `sync`, the data is on disk before it returns, as a shared file normally
 * is (else the kernel writes it back later, while a benchmark measures).
 */
export async function writeRandomFile(
  path: string,
  size: number,
  options: { sync?: boolean } = {},
): Promise<string> {
  using f = await Deno.open(path, { write: true, create: true, truncate: true });
  const hash = createHash("sha1");
  const chunk = new Uint8Array(CHUNK);
  for (let off = 0; off < size; off += chunk.length) {
    const part = chunk.subarray(0, Math.min(chunk.length, size - off));
    fillRandom(part);
    hash.update(part);
    for (let w = 0; w < part.length;) w += await f.write(part.subarray(w));
  }
  if (options.sync) await f.syncData();
  return hash.digest("hex");
}

/** The SHA-1 of a file (hex), read in chunks. */
export async function sha1OfFile(path: string): Promise<string> {
  using f = await Deno.open(path, { read: true });
  const hash = createHash("sha1");
  const buf = new Uint8Array(CHUNK);
  for (let n; (n = await f.read(buf)) !== null;) hash.update(buf.subarray(0, n));
  return hash.digest("hex");
}

/** Asserts that two files have the same bytes, comparing them chunk by chunk. */
export async function assertSameBytes(actual: string, expected: string): Promise<void> {
  const [sa, se] = [await Deno.stat(actual), await Deno.stat(expected)];
  assert.equal(sa.size, se.size, `${actual} has ${sa.size} bytes, expected ${se.size}`);
  using fa = await Deno.open(actual, { read: true });
  using fe = await Deno.open(expected, { read: true });
  const ba = new Uint8Array(CHUNK);
  const be = new Uint8Array(CHUNK);
  for (let off = 0; off < se.size;) {
    const len = Math.min(ba.length, se.size - off);
    await readExactly(fa, ba.subarray(0, len));
    await readExactly(fe, be.subarray(0, len));
    for (let i = 0; i < len; i++) {
      if (ba[i] !== be[i]) assert.fail(`${actual} differs from ${expected} at byte ${off + i}`);
    }
    off += len;
  }
}

async function readExactly(f: Deno.FsFile, buf: Uint8Array): Promise<void> {
  for (let off = 0; off < buf.length;) {
    const n = await f.read(buf.subarray(off));
    if (n === null) throw new ShortFileError("file ended early");
    off += n;
  }
}

/** True when `path` exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** A download as recorded in a peer's `peer.db`. */
export interface DownloadRow {
  name: string;
  status: string;
  have: Uint8Array;
  /** Number of verified pieces. */
  count: number;
  /** Number of pieces of the file. */
  n: number;
}

/** Reads the downloads table of `<stateDir>/peer.db` (safe while the peer runs: WAL mode). */
export function readDownloads(stateDir: string): DownloadRow[] {
  const db = new PeerDb(stateDir);
  try {
    return db.downloads().map((r) => {
      const n = Math.ceil(r.size / r.pieceSize);
      return { name: r.name, status: r.status, have: r.have, n, count: countBits(r.have, n) };
    });
  } finally {
    db.close();
  }
}

/** Parses `list_files` output into rows by name. */
export function parseListFiles(
  lines: string[],
): Map<string, { sha1: string; seeders: number; partial: number }> {
  const rows = new Map<string, { sha1: string; seeders: number; partial: number }>();
  for (const line of lines) {
    // NAME  SIZE (e.g. "1.5 MiB" or "12 B")  SHA1  SEEDERS  PARTIAL
    const m = /^(\S+)\s+.+?\s+([0-9a-f]{40})\s+(\d+)\s+(\d+)$/.exec(line);
    if (m) rows.set(m[1]!, { sha1: m[2]!, seeders: Number(m[3]), partial: Number(m[4]) });
  }
  return rows;
}
