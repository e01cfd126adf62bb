/**
 * The pool of transfer workers. A connection goes to an idle worker if there
 * is one, else to a new worker while the pool is below its size, else to the
 * worker with the fewest connections. Workers start when first needed (each
 * is a V8 isolate of about 10 MiB), so a download from one seeder does not
 * pay for workers it has no connection for.
 */
import type { WorkerCommand, WorkerEvent } from "./transfer_protocol.ts";

/** A command for a whole-file hash in a worker. */
export type HashCommand = Extract<WorkerCommand, { type: "hash" | "hashCancel" }>;
/** The end of a whole-file hash. */
export type HashEvent = Extract<WorkerEvent, { type: "hashed" | "hashFailed" }>;

/** Default pool size: twice the number of cores, as in the seed design. */
export function defaultWorkers(): number {
  return 2 * (navigator.hardwareConcurrency || 1);
}

interface Slot {
  worker: Worker;
  conns: number;
}

/** Transfer workers, started as connections need them, up to a fixed number. */
export class WorkerPool {
  #size: number;
  #slots: Slot[] = [];
  /** The worker of each open connection. */
  #connSlot = new Map<number, Slot>();
  #handlers = new Map<number, (e: WorkerEvent) => void>();
  #ids = 0;
  #drains = new Map<number, () => void>();
  #hashHandlers = new Map<number, (e: HashEvent) => void>();

  constructor(size: number) {
    this.#size = Math.max(1, size);
  }

  /** Workers started so far. */
  get started(): number {
    return this.#slots.length;
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
    const slot = this.#pick();
    slot.conns++;
    this.#connSlot.set(conn, slot);
    this.#handlers.set(conn, onEvent);
    slot.worker.postMessage({ ...cmd, type: "open", conn } satisfies WorkerCommand);
    return conn;
  }

  /** Asks connection `conn` for a piece. */
  get(conn: number, piece: number): void {
    this.#connSlot.get(conn)?.worker.postMessage(
      { type: "get", conn, piece } satisfies WorkerCommand,
    );
  }

  /** Closes connection `conn`; its `failed` event still arrives. */
  close(conn: number): void {
    this.#connSlot.get(conn)?.worker.postMessage({ type: "close", conn } satisfies WorkerCommand);
  }

  /**
   * A whole-file hash run by one of the workers (the least busy): returns its
   * id and a function that sends it commands; `onEvent` receives its result.
   */
  hashChannel(
    onEvent: (e: HashEvent) => void,
  ): { id: number; post: (cmd: HashCommand) => void } {
    const id = ++this.#ids;
    const worker = this.#leastBusy().worker;
    this.#hashHandlers.set(id, onEvent);
    return { id, post: (cmd) => worker.postMessage(cmd) };
  }

  /** Starts `count` workers now (at most the pool size), so that a download does not wait for them. */
  warm(count: number): void {
    while (this.#slots.length < Math.min(count, this.#size)) this.#start();
  }

  /** Resolves once every worker has finished the writes it queued for `path`. */
  drain(path: string): Promise<void> {
    return Promise.all(this.#slots.map(({ worker }) => {
      const id = ++this.#ids;
      return new Promise<void>((resolve) => {
        this.#drains.set(id, resolve);
        worker.postMessage({ type: "drain", path, id } satisfies WorkerCommand);
      });
    })).then(() => {});
  }

  /** Stops every worker. */
  terminate(): void {
    for (const { worker } of this.#slots) worker.terminate();
    this.#slots = [];
    this.#connSlot.clear();
    this.#handlers.clear();
    for (const h of this.#hashHandlers.values()) h({ type: "hashFailed", id: 0, error: "stopped" });
    this.#hashHandlers.clear();
    for (const resolve of this.#drains.values()) resolve();
    this.#drains.clear();
  }

  #pick(): Slot {
    const idle = this.#slots.find((s) => s.conns === 0);
    if (idle) return idle;
    if (this.#slots.length < this.#size) return this.#start();
    return this.#leastBusy();
  }

  #leastBusy(): Slot {
    if (this.#slots.length === 0) return this.#start();
    return this.#slots.reduce((a, b) => (b.conns < a.conns ? b : a));
  }

  #start(): Slot {
    const worker = new Worker(new URL("./transfer_worker.ts", import.meta.url), {
      type: "module",
    });
    const slot: Slot = { worker, conns: 0 };
    worker.onmessage = (ev: MessageEvent<WorkerEvent>) => {
      const e = ev.data;
      if (e.type === "drained") {
        this.#drains.get(e.id)?.();
        this.#drains.delete(e.id);
        return;
      }
      if (e.type === "hashed" || e.type === "hashFailed") {
        this.#hashHandlers.get(e.id)?.(e);
        this.#hashHandlers.delete(e.id);
        return;
      }
      const h = this.#handlers.get(e.conn);
      if (e.type === "failed") {
        this.#handlers.delete(e.conn);
        if (this.#connSlot.get(e.conn) === slot) slot.conns--;
        this.#connSlot.delete(e.conn);
      }
      h?.(e);
    };
    this.#slots.push(slot);
    return slot;
  }
}
