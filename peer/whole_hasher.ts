/** The main-thread side of {@link ./follow_hash_worker.ts}: a whole-file SHA-1 that follows a download. */

/**
 * Hashes a download's verified prefix as it grows, in a worker. The worker
 * starts with the first verified bytes, not with the download: booting it
 * costs CPU that connection set-up at the start of a download should have.
 */
export class WholeHasher {
  #path: string;
  #worker: Worker | null = null;
  #cancelled = false;
  #sent = 0;
  #resolve!: (sha1: string) => void;
  #reject!: (err: Error) => void;
  #result: Promise<string>;

  constructor(path: string) {
    this.#path = path;
    this.#result = new Promise<string>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#result.catch(() => {}).finally(() => this.#worker?.terminate());
  }

  /** The first `bytes` bytes of the file are verified and may be hashed. */
  advance(bytes: number): void {
    if (bytes <= this.#sent) return;
    this.#sent = bytes;
    this.#started()?.postMessage({ upTo: bytes });
  }

  /** Hashes up to `size` and returns the hex SHA-1 of the whole file. */
  finish(size: number): Promise<string> {
    this.#started()?.postMessage({ upTo: size, finish: true });
    return this.#result;
  }

  /** Stops the worker without a result. */
  cancel(): void {
    this.#cancelled = true;
    this.#worker?.terminate();
  }

  #started(): Worker | null {
    if (this.#cancelled) return null;
    if (this.#worker) return this.#worker;
    const w = new Worker(new URL("./follow_hash_worker.ts", import.meta.url), { type: "module" });
    w.onmessage = (ev: MessageEvent<{ sha1?: string; error?: string }>) => {
      if (ev.data.sha1) this.#resolve(ev.data.sha1);
      else this.#reject(new Error(ev.data.error ?? "hashing failed"));
    };
    w.onerror = (ev) => {
      ev.preventDefault();
      this.#reject(new Error(ev.message));
    };
    w.postMessage({ path: this.#path });
    this.#worker = w;
    return w;
  }
}
