/** A Web Worker that hashes one file: every piece and the whole file, or the whole file only. */
/// <reference lib="deno.worker" />
import { createHash } from "node:crypto";
import { hashFile, readFully } from "../shared/hashing.ts";
import { describeError } from "../shared/errors.ts";

/** A hashing job. */
export interface HashJob {
  path: string;
  pieceSize: number;
  /** "pieces": per-piece and whole-file SHA-1; "whole": the whole-file SHA-1 only. */
  mode: "pieces" | "whole";
}

/** The answer: hashes, or an error message. */
export type HashResult =
  | { ok: true; size: number; pieces: string; sha1: string }
  | { ok: false; error: string };

self.onmessage = async (ev: MessageEvent<HashJob>) => {
  const job = ev.data;
  try {
    if (job.mode === "pieces") {
      self.postMessage({ ok: true, ...(await hashFile(job.path, job.pieceSize)) });
    } else {
      self.postMessage({ ok: true, pieces: "", ...(await wholeSha1(job.path, job.pieceSize)) });
    }
  } catch (err) {
    self.postMessage({ ok: false, error: describeError(err) } satisfies HashResult);
  }
};

async function wholeSha1(path: string, chunk: number): Promise<{ size: number; sha1: string }> {
  using file = await Deno.open(path, { read: true });
  const size = (await file.stat()).size;
  const h = createHash("sha1");
  const buf = new Uint8Array(Math.max(chunk, 1024 * 1024));
  for (let done = 0; done < size;) {
    const len = Math.min(buf.length, size - done);
    await readFully(file, buf.subarray(0, len));
    h.update(buf.subarray(0, len));
    done += len;
  }
  return { size, sha1: h.digest("hex") };
}
