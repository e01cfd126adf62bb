/**
 * The pool of transfer workers. A download's connections (one `.part` path)
 * share a worker, {@link CONNS_PER_WORKER} to a worker, so that a download
 * from one seeder has one thread writing its file (writers on two threads
 * contend for the file's lock in the kernel) and one isolate fewer. A new
 * share goes to an idle worker if there is one, else to a new worker while
 * the pool is below its size, else to the worker with the fewest
 * connections: several downloads spread over the workers. Workers start when
 * first needed (each is a V8 isolate of about 10 MiB).
 */
import type { TlsDialOptions } from "../../shared/conn.ts";
import type { WorkerCommand, WorkerEvent } from "./transfer_protocol.ts";

/** Default pool size: twice the number of cores, as in the seed design. */
export function defaultWorkers(): number {
  return 2 * (navigator.hardwareConcurrency || 1);
}

interface Slot {
  worker: Worker;
  conns: number;
}

/** A download's connections in one worker. */
interface Share {
  slot: Slot;
  conns: number;
}

/**
 * A download's connections share a worker up to this many, then the next
 * share goes to another worker: two fill one worker (a lone seeder), and
 * more peers get more threads (with four seeders in one worker, 512 MiB took
 * 1.8 s instead of 1.5 s with four workers, in an interleaved A/B).
 */
export const CONNS_PER_WORKER = 2;

/** What a connection is opened with: the `open` command without its connection id. */
export type OpenSpec = Omit<Extract<WorkerCommand, { type: "open" }>, "conn" | "type">;

/** What a download needs of the transfer workers (tests pass small fakes). */
export interface TransferPool {
  /** Opens a connection; `onEvent` gets its events. Returns its id. */
  open(spec: OpenSpec, onEvent: (e: WorkerEvent) => void): number;
  /** Asks connection `conn` for a piece. */
  get(conn: number, piece: number): void;
  /** Closes connection `conn`; its `failed` event still arrives. */
  close(conn: number): void;
  /** Resolves once every write queued for `path` is done. */
  drain(path: string): Promise<void>;
}

/** Transfer workers, started as connections need them, up to a fixed number. */
export class WorkerPool implements TransferPool {
  #size: number;
  #slots: Slot[] = [];
  /** The worker of each open connection. */
  #handlers = new Map<number, (e: WorkerEvent) => void>();
  #ids = 0;
  #drains = new Map<number, () => void>();
  /** The workers of each download's `.part` path and its connections in each, while it has any. */
  #byPath = new Map<string, Share[]>();
  /** Each open connection's download path and share (and so its worker). */
  #connShare = new Map<number, { path: string; share: Share }>();
  /** What connections dial with (see {@linkcode setIdentity}). */
  #identity: TlsDialOptions | null = null;

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
  open(cmd: OpenSpec, onEvent: (e: WorkerEvent) => void): number {
    const conn = ++this.#ids;
    const shares = this.#byPath.get(cmd.path) ?? [];
    this.#byPath.set(cmd.path, shares);
    let share = shares.find((x) => x.conns < CONNS_PER_WORKER);
    if (!share) {
      share = { slot: this.#pick(), conns: 0 };
      shares.push(share);
    }
    share.conns++;
    this.#connShare.set(conn, { path: cmd.path, share });
    const slot = share.slot;
    slot.conns++;
    this.#handlers.set(conn, onEvent);
    slot.worker.postMessage({ ...cmd, type: "open", conn } satisfies WorkerCommand);
    return conn;
  }

  /** Asks connection `conn` for a piece. */
  get(conn: number, piece: number): void {
    this.#connShare.get(conn)?.share.slot.worker.postMessage(
      { type: "get", conn, piece } satisfies WorkerCommand,
    );
  }

  /** Closes connection `conn`; its `failed` event still arrives. */
  close(conn: number): void {
    this.#connShare.get(conn)?.share.slot.worker.postMessage(
      { type: "close", conn } satisfies WorkerCommand,
    );
  }

  /**
   * The CA and this peer's identity (certificate and key) that connections
   * opened from now on show to serving peers; null while it has none (then
   * they fail). Open connections keep the identity they were opened with.
   */
  setIdentity(tls: TlsDialOptions | null): void {
    this.#identity = tls;
    for (const { worker } of this.#slots) worker.postMessage(identityCommand(tls));
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
    this.#handlers.clear();
    this.#byPath.clear();
    this.#connShare.clear();
    for (const resolve of this.#drains.values()) resolve();
    this.#drains.clear();
  }

  /** Forgets an ended connection: its worker and its download's share count one fewer. */
  #forget(conn: number): void {
    const c = this.#connShare.get(conn);
    if (!c) return;
    this.#connShare.delete(conn);
    c.share.slot.conns--;
    if (--c.share.conns > 0) return;
    const shares = (this.#byPath.get(c.path) ?? []).filter((x) => x !== c.share);
    if (shares.length > 0) this.#byPath.set(c.path, shares);
    else this.#byPath.delete(c.path);
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
    worker.postMessage(identityCommand(this.#identity));
    worker.onmessage = (ev: MessageEvent<WorkerEvent>) => {
      const e = ev.data;
      if (e.type === "drained") {
        this.#drains.get(e.id)?.();
        this.#drains.delete(e.id);
        return;
      }
      const h = this.#handlers.get(e.conn);
      if (e.type === "failed") {
        this.#forget(e.conn);
        this.#handlers.delete(e.conn);
      }
      h?.(e);
    };
    this.#slots.push(slot);
    return slot;
  }
}

function identityCommand(tls: TlsDialOptions | null): WorkerCommand {
  return { type: "identity", tls };
}
