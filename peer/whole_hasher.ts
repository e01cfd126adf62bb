/** The main-thread side of {@link ./follow_hash_worker.ts}: a whole-file SHA-1 that follows a download. */

/** Hashes a download's verified prefix as it grows, in a worker. */
export class WholeHasher {
  #worker: Worker;
  #sent = 0;
  #result: Promise<string>;

  constructor(path: string) {
    this.#worker = new Worker(new URL("./follow_hash_worker.ts", import.meta.url), {
      type: "module",
    });
    this.#result = new Promise<string>((resolve, reject) => {
      this.#worker.onmessage = (ev: MessageEvent<{ sha1?: string; error?: string }>) => {
        if (ev.data.sha1) resolve(ev.data.sha1);
        else reject(new Error(ev.data.error ?? "hashing failed"));
      };
      this.#worker.onerror = (ev) => {
        ev.preventDefault();
        reject(new Error(ev.message));
      };
    });
    this.#result.catch(() => {}).finally(() => this.#worker.terminate());
    this.#worker.postMessage({ path });
  }

  /** The first `bytes` bytes of the file are verified and may be hashed. */
  advance(bytes: number): void {
    if (bytes <= this.#sent) return;
    this.#sent = bytes;
    this.#worker.postMessage({ upTo: bytes });
  }

  /** Hashes up to `size` and returns the hex SHA-1 of the whole file. */
  finish(size: number): Promise<string> {
    this.#worker.postMessage({ upTo: size, finish: true });
    return this.#result;
  }

  /** Stops the worker without a result. */
  cancel(): void {
    this.#worker.terminate();
  }
}
