/** The pool of transfer workers; connections are spread over them round-robin. */
import type { WorkerCommand, WorkerEvent } from "./transfer_protocol.ts";

/** Default pool size: twice the number of cores, as in the seed design. */
export function defaultWorkers(): number {
  return 2 * (navigator.hardwareConcurrency || 1);
}

/** Transfer workers, started on first use. */
export class WorkerPool {
  #size: number;
  #workers: Worker[] = [];
  #next = 0;
  #handlers = new Map<number, (e: WorkerEvent) => void>();
  #ids = 0;
  #drains = new Map<number, () => void>();

  constructor(size: number) {
    this.#size = Math.max(1, size);
  }

  /**
   * Opens a connection in one of the workers; `onEvent` receives that
   * connection's events. Returns the connection id for `get` and `close`.
   */
  open(
    cmd: Omit<Extract<WorkerCommand, { type: "open" }>, "conn" | "type">,
    onEvent: (e: WorkerEvent) => void,
  ): number {
    const conn = ++this.#ids;
    this.#handlers.set(conn, onEvent);
    this.#worker(conn).postMessage({ ...cmd, type: "open", conn } satisfies WorkerCommand);
    return conn;
  }

  /** Asks connection `conn` for a piece. */
  get(conn: number, piece: number): void {
    this.#worker(conn).postMessage({ type: "get", conn, piece } satisfies WorkerCommand);
  }

  /** Closes connection `conn`; its `failed` event still arrives. */
  close(conn: number): void {
    this.#worker(conn).postMessage({ type: "close", conn } satisfies WorkerCommand);
  }

  /** Starts every worker now, so that the first download does not wait for them. */
  warm(): void {
    this.#worker(0);
  }

  /** Resolves once every worker has finished the writes it queued for `path`. */
  drain(path: string): Promise<void> {
    if (this.#workers.length === 0) return Promise.resolve();
    return Promise.all(this.#workers.map((w) => {
      const id = ++this.#ids;
      return new Promise<void>((resolve) => {
        this.#drains.set(id, resolve);
        w.postMessage({ type: "drain", path, id } satisfies WorkerCommand);
      });
    })).then(() => {});
  }

  /** Stops every worker. */
  terminate(): void {
    for (const w of this.#workers) w.terminate();
    this.#workers = [];
    this.#handlers.clear();
    for (const resolve of this.#drains.values()) resolve();
    this.#drains.clear();
  }

  #worker(conn: number): Worker {
    while (this.#workers.length < this.#size) {
      const w = new Worker(new URL("./transfer_worker.ts", import.meta.url), { type: "module" });
      w.onmessage = (ev: MessageEvent<WorkerEvent>) => {
        const e = ev.data;
        if (e.type === "drained") {
          this.#drains.get(e.id)?.();
          this.#drains.delete(e.id);
          return;
        }
        const h = this.#handlers.get(e.conn);
        if (e.type === "failed") this.#handlers.delete(e.conn);
        h?.(e);
      };
      this.#workers.push(w);
    }
    return this.#workers[conn % this.#size]!;
  }
}
