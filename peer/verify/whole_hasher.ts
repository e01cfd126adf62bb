/**
 * The main-thread side of a download's whole-file SHA-1 ({@link ./follow_hasher.ts}),
 * which runs in a piece-server worker (beside the transfer worker that writes
 * the file) and follows the verified prefix of the `.part` file. It is
 * started with the first verified bytes, not with the download, so
 * connection set-up has the CPU to itself.
 */
import type { HashEvent } from "./hash_jobs.ts";
import type { HashCommandBody } from "../serve/server_pool.ts";

/** Where whole-file hashes run (the piece-server pool). */
export interface HashHost {
  hashChannel(
    onEvent: (e: HashEvent) => void,
  ): { id: number; post: (cmd: HashCommandBody) => void };
}

/** A whole-file SHA-1 that follows a download. */
export class WholeHasher {
  #host: HashHost;
  #path: string;
  #channel: { id: number; post: (cmd: HashCommandBody) => void } | null = null;
  #cancelled = false;
  #sent = 0;
  #resolve!: (sha1: string) => void;
  #reject!: (err: Error) => void;
  #result: Promise<string>;

  constructor(host: HashHost, path: string) {
    this.#host = host;
    this.#path = path;
    this.#result = new Promise<string>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#result.catch(() => {});
  }

  /** The first `bytes` bytes of the file are verified and may be hashed. */
  advance(bytes: number): void {
    if (bytes <= this.#sent) return;
    this.#sent = bytes;
    this.#post({ upTo: bytes });
  }

  /** Hashes up to `size` and returns the hex SHA-1 of the whole file. */
  finish(size: number): Promise<string> {
    this.#post({ upTo: size, size });
    return this.#result;
  }

  /** Stops hashing without a result. */
  cancel(): void {
    if (this.#channel && !this.#cancelled) {
      this.#channel.post({ type: "hashCancel" });
    }
    this.#cancelled = true;
  }

  #post(m: { upTo: number; size?: number }): void {
    if (this.#cancelled) return;
    try {
      this.#channel ??= this.#host.hashChannel((e: HashEvent) => {
        if (e.type === "hashed") this.#resolve(e.sha1);
        else this.#reject(new Error(e.error));
      });
    } catch (err) {
      // No worker to hash in: the download fails at its end with this reason.
      this.#cancelled = true;
      this.#reject(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    this.#channel.post({ type: "hash", path: this.#path, ...m });
  }
}
