/**
 * A Web Worker that computes a download's whole-file SHA-1 while it runs: it
 * hashes the `.part` file's verified prefix as that prefix grows, so at the
 * end only the last stretch is left to hash.
 *
 * Main → worker: `{upTo}` (bytes from the start that are verified), `{finish: true}`.
 * Worker → main: `{sha1}` after finish, or `{error}`.
 */
/// <reference lib="deno.worker" />
import { createHash } from "node:crypto";
import { readFullySync } from "../shared/read_fully.ts";
import { describeError } from "../shared/errors.ts";

const CHUNK = 1024 * 1024;

let file: Deno.FsFile | null = null;
let pos = 0;
let target = 0;
let finishing = false;
const hash = createHash("sha1");
const buf = new Uint8Array(CHUNK);

self.onmessage = (ev: MessageEvent<{ path?: string; upTo?: number; finish?: boolean }>) => {
  const m = ev.data;
  if (m.path !== undefined) file = Deno.openSync(m.path, { read: true });
  if (m.upTo !== undefined && m.upTo > target) target = m.upTo;
  if (m.finish) finishing = true;
  run();
};

function run(): void {
  try {
    while (file && pos < target) {
      const len = Math.min(CHUNK, target - pos);
      const view = buf.subarray(0, len);
      file.seekSync(pos, Deno.SeekMode.Start);
      readFullySync(file, view);
      hash.update(view);
      pos += len;
    }
    if (finishing && file) {
      file.close();
      file = null;
      self.postMessage({ sha1: hash.digest("hex") });
    }
  } catch (err) {
    self.postMessage({ error: describeError(err) });
  }
}
