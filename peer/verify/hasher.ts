/** Runs file hashing in a Web Worker, off the main thread. */
import type { HashJob, HashResult } from "./hash_worker.ts";

/** Hashes a file in a fresh worker; throws with the worker's one-line reason on failure. */
export function hashInWorker(
  job: HashJob,
): Promise<{ size: number; pieces: string; sha1: string }> {
  const w = new Worker(new URL("./hash_worker.ts", import.meta.url), { type: "module" });
  return new Promise<{ size: number; pieces: string; sha1: string }>((resolve, reject) => {
    w.onmessage = (ev: MessageEvent<HashResult>) => {
      const r = ev.data;
      if (r.ok) resolve(r);
      else reject(new Error(r.error));
    };
    w.onerror = (ev) => {
      ev.preventDefault();
      reject(new Error(ev.message));
    };
    w.postMessage(job);
  }).finally(() => w.terminate());
}
