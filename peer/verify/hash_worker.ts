/** A Web Worker that hashes one file: every piece and the whole file. */
/// <reference lib="deno.worker" />
import { hashFile } from "../../shared/hashing.ts";
import { describeError } from "../../shared/errors.ts";

/** A hashing job. */
export interface HashJob {
  path: string;
  pieceSize: number;
}

/** The answer: hashes, or an error message. */
export type HashResult =
  | { ok: true; size: number; pieces: string; sha1: string }
  | { ok: false; error: string };

self.onmessage = async (ev: MessageEvent<HashJob>) => {
  const job = ev.data;
  try {
    self.postMessage({ ok: true, ...(await hashFile(job.path, job.pieceSize)) });
  } catch (err) {
    self.postMessage({ ok: false, error: describeError(err) } satisfies HashResult);
  }
};
