/**
 * The piece server as a pool of workers sharing the peer's address
 * (SO_REUSEPORT). The main thread mirrors its {@linkcode ServedFiles} registry
 * into every worker.
 *
 * The first worker's thread also hosts file verification (peer/verify/
 * verify_host.ts) on a MessageChannel of its own, which saves an isolate; the
 * pool only hands over the channel's ends (see {@linkcode ServerPool.verifyPort}).
 */
import type { RevocationNews } from "../../shared/grant.ts";
import { log } from "../../shared/log.ts";
import type { Endpoint } from "../../shared/tracker_info.ts";
import type { ServedFile } from "./served_files.ts";
import type { ServerIdentity } from "./piece_listener.ts";
import type { ServerStats } from "./piece_server.ts";
import type { ServerCommand, ServerEvent } from "./server_protocol.ts";
import { UPLOAD_SLOTS } from "./upload_slots.ts";

const logger = log("peer", "server");

/** Default number of piece-server workers: one per two cores. */
export function defaultServerWorkers(): number {
  return Math.max(1, Math.floor((navigator.hardwareConcurrency || 1) / 2));
}

/** Options for {@linkcode ServerPool.start}. */
export interface ServerPoolOptions {
  /** How many workers share the address. */
  count: number;
  /** The cluster CA's certificate (PEM): downloaders' certificates must chain to it. */
  ca: string;
  /** A served file changed on disk (a worker saw it before serving it). */
  onChanged: (group: string, name: string) => void;
}

/** Piece-server workers. */
export class ServerPool {
  #workers: Worker[] = [];
  #onChanged: (group: string, name: string) => void;
  #verify = new MessageChannel();
  /** Each worker's last counters. */
  #stats: ServerStats[] = [];

  private constructor(onChanged: (group: string, name: string) => void) {
    this.#onChanged = onChanged;
  }

  /**
   * Starts workers listening on `addr` (mutual TLS, client certificates of
   * the CA only; every handshake fails until {@linkcode setIdentity}). Rejects
   * with the first worker's error (e.g. the address is in use).
   */
  static async start(addr: Endpoint, opts: ServerPoolOptions): Promise<ServerPool> {
    const { count, onChanged } = opts;
    const pool = new ServerPool(onChanged);
    const ready: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const w = new Worker(new URL("./server_worker.ts", import.meta.url), { type: "module" });
      pool.#workers.push(w);
      ready.push(
        new Promise<void>((resolve, reject) => {
          w.onmessage = (ev: MessageEvent<ServerEvent>) => {
            const e = ev.data;
            if (e.type === "listening") resolve();
            else if (e.type === "error") reject(new Error(e.error));
            else if (e.type === "changed") pool.#onChanged(e.group, e.name);
            else if (e.type === "stats") pool.#stats[i] = e;
          };
          w.onerror = (ev) => {
            ev.preventDefault();
            reject(new Error(ev.message));
          };
        }),
      );
      const listen: ServerCommand = {
        type: "listen",
        hostname: addr.hostname,
        port: addr.port,
        reusePort: count > 1,
        ca: opts.ca,
        // The kernel spreads connections over the workers: each serves its share of the slots.
        uploadSlots: Math.max(1, Math.round(UPLOAD_SLOTS / count)),
      };
      if (i > 0) w.postMessage(listen);
      else {
        const verifyPort = pool.#verify.port2;
        w.postMessage({ ...listen, verifyPort }, [verifyPort]);
      }
    }
    try {
      await Promise.all(ready);
    } catch (err) {
      pool.terminate();
      throw err;
    }
    for (const w of pool.#workers) {
      w.onerror = (ev) => {
        ev.preventDefault();
        logger.error("A piece-server worker failed: {error}", { error: ev.message });
        pool.onLost?.(ev.message);
      };
    }
    return pool;
  }

  /**
   * Called when a worker fails after the start (with it, the verify host of
   * the first): whoever waits on it must not wait for ever.
   */
  onLost?: (reason: string) => void;

  /**
   * The main thread's end of the channel to the verify host on the first
   * worker's thread, for the peer's `Verifier` (its `connect`). It answers
   * while the pool runs; the pool closes it when it stops.
   */
  get verifyPort(): MessagePort {
    return this.#verify.port1;
  }

  /** The workers' counters summed (as of their last report, at most about a second old). */
  get stats(): ServerStats {
    const sum: ServerStats = { bytesSent: 0, piecesSent: 0, connections: 0 };
    for (const s of this.#stats) {
      sum.bytesSent += s.bytesSent;
      sum.piecesSent += s.piecesSent;
      sum.connections += s.connections;
    }
    return sum;
  }

  /** Serves (or updates) a file in every worker. */
  set(file: ServedFile): void {
    this.#send({ type: "set", file });
  }

  /** Stops serving a file. */
  delete(group: string, name: string): void {
    this.#send({ type: "delete", group, name });
  }

  /** Revocations from the trackers: connections under a void grant close at once. */
  revoke(news: RevocationNews): void {
    this.#send({ type: "revoke", news });
  }

  /** The trackers' grant key (base64 SPKI), or null to refuse every request. */
  setKey(spki: string | null): void {
    this.#send({ type: "key", spki });
  }

  /**
   * This peer's certificate and key, shown to downloaders from now on (a
   * renewed one replaces the last); null: every handshake fails again.
   */
  setIdentity(identity: ServerIdentity | null): void {
    this.#send({ type: "identity", identity });
  }

  /** Closes the listeners and stops the workers. */
  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) =>
      new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 1000);
        w.onmessage = (ev: MessageEvent<ServerEvent>) => {
          if (ev.data.type === "closed") {
            clearTimeout(t);
            resolve();
          }
        };
        w.postMessage({ type: "close" } satisfies ServerCommand);
      })
    ));
    this.terminate();
  }

  /** Stops the workers (and the verify host with the first) at once. */
  terminate(): void {
    for (const w of this.#workers) w.terminate();
    this.#workers = [];
    this.#verify.port1.close();
  }

  #send(cmd: ServerCommand): void {
    for (const w of this.#workers) w.postMessage(cmd);
  }
}
