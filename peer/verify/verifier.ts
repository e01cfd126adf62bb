/**
 * The main-thread side of file verification. Every hash runs in one verify
 * worker (verify_worker.ts), off the main thread and apart from the piece
 * server: the hashes of a file to share, and the whole-file SHA-1 of each
 * running download, which follows the verified prefix of its `.part` file.
 * The worker starts with the first hash and stops when none is left, so an
 * idle peer keeps no isolate (and no `node:crypto`) for it.
 */
import type { FileHashes } from "./file_hashes.ts";
import type { PrefixHash } from "./prefix_hash.ts";
import { VerifyError } from "./verify_error.ts";
import type { VerifyCommand, VerifyEvent } from "./verify_protocol.ts";

/** What a hash gets when it ends: its result or its failure. */
type OnEnd = (e: VerifyEvent) => void;

/** The error of an answer that is not the result asked for. */
function failure(e: VerifyEvent): VerifyError {
  return new VerifyError(e.type === "failed" ? e.error : `Unexpected answer ${e.type}`);
}

/** Runs the peer's file hashes in the verify worker. */
export class Verifier {
  #worker: Worker | null = null;
  #jobs = new Map<number, OnEnd>();
  #ids = 0;
  #closed = false;

  /** The SHA-1 of every `pieceSize` piece of the file at `path` and of the whole file. */
  hashFile(path: string, pieceSize: number): Promise<FileHashes> {
    return new Promise((resolve, reject) => {
      const id = this.#open((e) => {
        if (e.type === "fileHashed") resolve(e.hashes);
        else reject(failure(e));
      });
      this.#send({ type: "hashFile", id, path, pieceSize });
    });
  }

  /**
   * The whole-file SHA-1 of a download into `path`, fed as its verified
   * prefix grows. The worker hears of it with the first verified bytes, not
   * before, so a download's connection set-up has the CPU to itself.
   */
  followPrefix(path: string): PrefixHash {
    const { promise: result, resolve, reject } = Promise.withResolvers<string>();
    result.catch(() => {});
    let id = 0; // 0: the worker has not heard of it yet
    let sent = 0;
    let ended = false;
    const post = (upTo: number, size?: number) => {
      if (ended) return;
      try {
        id ||= this.#open((e) => {
          ended = true;
          if (e.type === "prefixHashed") resolve(e.sha1);
          else reject(failure(e));
        });
      } catch (err) {
        // No worker to hash in: the download fails at its end with this reason.
        ended = true;
        return reject(err);
      }
      this.#send({ type: "follow", id, path, upTo, size });
    };
    return {
      advance: (bytes) => {
        if (bytes <= sent) return;
        sent = bytes;
        post(bytes);
      },
      finish: (size) => {
        post(size, size);
        return result;
      },
      cancel: () => {
        if (!ended && id !== 0) this.#cancel(id);
        ended = true;
        reject(new VerifyError("Hashing cancelled"));
      },
    };
  }

  /** Stops the worker; the hashes still running fail, and later ones are refused. */
  close(): void {
    this.#closed = true;
    this.#failAll("Verification stopped");
  }

  /** Registers a hash (starting the worker if none runs) and returns its id. */
  #open(onEnd: OnEnd): number {
    if (this.#closed) throw new VerifyError("Verification stopped");
    this.#worker ??= this.#spawn();
    const id = ++this.#ids;
    this.#jobs.set(id, onEnd);
    return id;
  }

  #send(cmd: VerifyCommand): void {
    this.#worker?.postMessage(cmd);
  }

  #cancel(id: number): void {
    this.#jobs.delete(id);
    if (this.#jobs.size === 0) this.#stop();
    else this.#send({ type: "cancel", id });
  }

  #spawn(): Worker {
    const w = new Worker(new URL("./verify_worker.ts", import.meta.url), { type: "module" });
    w.onmessage = (ev: MessageEvent<VerifyEvent>) => {
      const onEnd = this.#jobs.get(ev.data.id);
      if (!onEnd) return; // cancelled
      this.#jobs.delete(ev.data.id);
      if (this.#jobs.size === 0) this.#stop();
      onEnd(ev.data);
    };
    w.onerror = (ev) => {
      ev.preventDefault();
      this.#failAll(ev.message);
    };
    return w;
  }

  /** Every running hash fails with `error`, and the worker stops. */
  #failAll(error: string): void {
    const ends = [...this.#jobs];
    this.#jobs.clear();
    this.#stop();
    for (const [id, onEnd] of ends) onEnd({ type: "failed", id, error });
  }

  #stop(): void {
    this.#worker?.terminate();
    this.#worker = null;
  }
}
