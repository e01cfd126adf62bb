/**
 * A download's whole-file SHA-1, computed while it runs: it hashes the
 * `.part` file's verified prefix as that prefix grows, so at the end only the
 * last stretch is left. It runs in the verify host (see verify_host.ts),
 * one chunk per turn of the event loop so that the other work of that thread
 * (the piece server's reads and sends, other hashes, messages) keeps its turn.
 *
 * Behind it, the stretches it has hashed leave the page cache (see
 * page_cache.ts), so the file's pages are reused instead of fresh memory.
 */
import { createHash, type Hash } from "node:crypto";
import { setImmediate } from "node:timers";
import { describeError } from "../../shared/errors.ts";
import { readFullySync } from "../../shared/read_fully.ts";
import { PageDropper } from "./page_cache.ts";
import { VerifyError } from "./verify_error.ts";

/** Bytes hashed per turn of the event loop. */
const CHUNK = 1024 * 1024;

/**
 * After this many more bytes hashed, the hashed prefix's pages are dropped.
 * Small enough that the pages are reused while still resident, large enough
 * that writeback (started by the previous drop) has finished with most.
 */
export const DROP_EVERY = 16 * 1024 * 1024;

/** The whole-file SHA-1 of a download, fed as its verified prefix grows. */
export interface PrefixHash {
  /** The first `bytes` bytes are verified and may be hashed. */
  advance(bytes: number): void;
  /** Hashes up to `size` bytes and resolves with the hex SHA-1. */
  finish(size: number): Promise<string>;
  /** Stops without a result. */
  cancel(): void;
}

/** Hashes a growing prefix of one file (in the thread that calls it). */
export class PrefixHasher implements PrefixHash {
  #path: string;
  #file: Deno.FsFile | null = null;
  #hash: Hash | null = null;
  #buf: Uint8Array | null = null;
  #dropper: PageDropper | null = null;
  #dropEvery: number;
  #droppedTo = 0;
  #pos = 0;
  #target = 0;
  #size = -1;
  #running = false;
  #done = false;
  #result: Promise<string>;
  #resolve!: (sha1: string) => void;
  #reject!: (err: Error) => void;

  /** Hashes the file at `path`; `dropEvery` is for tests ({@link DROP_EVERY} by default). */
  constructor(path: string, dropEvery = DROP_EVERY) {
    this.#path = path;
    this.#dropEvery = dropEvery;
    this.#result = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#result.catch(() => {});
  }

  /** Resolves with the hex SHA-1 once finished; rejects on a read error or when cancelled. */
  get result(): Promise<string> {
    return this.#result;
  }

  /** The first `bytes` bytes are verified and may be hashed. */
  advance(bytes: number): void {
    if (bytes > this.#target) this.#target = bytes;
    this.#run();
  }

  /** Hashes up to `size` bytes and resolves with the hex SHA-1. */
  finish(size: number): Promise<string> {
    this.#size = size;
    this.advance(size);
    return this.#result;
  }

  /** Stops without a result. */
  cancel(): void {
    this.#end();
    this.#reject(new VerifyError("Hashing cancelled"));
  }

  async #run(): Promise<void> {
    if (this.#running || this.#done) return;
    this.#running = true;
    try {
      if (!this.#hash) {
        this.#hash = createHash("sha1");
        this.#file = Deno.openSync(this.#path, { read: true });
        this.#buf = new Uint8Array(CHUNK);
        const dropper = await PageDropper.open(this.#path);
        if (this.#done) { // cancelled meanwhile: keep nothing open
          dropper?.close();
          return;
        }
        this.#dropper = dropper;
      }
      while (!this.#done && this.#pos < this.#target) {
        const view = this.#buf!.subarray(0, Math.min(CHUNK, this.#target - this.#pos));
        this.#file!.seekSync(this.#pos, Deno.SeekMode.Start);
        readFullySync(this.#file!, view);
        this.#hash.update(view);
        this.#pos += view.length;
        if (this.#dropper && this.#pos - this.#droppedTo >= this.#dropEvery) {
          // From the start each time: pages that were still dirty last time go now.
          this.#dropper.drop(0, this.#pos);
          this.#droppedTo = this.#pos;
        }
        // Let the thread's other work have its turn (no timer clamping, unlike setTimeout).
        await new Promise((r) => setImmediate(r));
      }
      if (!this.#done && this.#size >= 0 && this.#pos >= this.#size) {
        const sha1 = this.#hash.digest("hex");
        this.#end();
        this.#resolve(sha1);
      }
    } catch (err) {
      this.#end();
      this.#reject(new VerifyError(describeError(err), { cause: err }));
    } finally {
      this.#running = false;
    }
    // More may have been verified (or the end asked for) while this ran.
    if (!this.#done && (this.#pos < this.#target || this.#size >= 0)) this.#run();
  }

  #end(): void {
    this.#done = true;
    try {
      this.#file?.close();
    } catch { /* already closed */ }
    this.#file = null;
    this.#dropper?.close();
    this.#dropper = null;
    this.#buf = null;
  }
}
