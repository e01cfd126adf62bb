/**
 * A download's view of the worker pool that can be shut: see
 * {@linkcode gatedPool}. (A stop-gap until `Download.pause()` stays paused
 * by itself; then this file can go.)
 */
import type { WorkerPool } from "./worker_pool.ts";

/** Whether a download may still use the worker pool. */
export interface Gate {
  open: boolean;
}

/**
 * The worker pool as one download sees it: once its gate closes, its
 * connections' events (the `failed` of each connection it closed, pieces
 * still in flight) no longer reach it and it opens no new connection.
 * `Download.pause()` closes the connections, but each one's `failed` event
 * makes the download plan again and reopen it after backoff (as does a
 * lookup that was in flight); with the gate a paused download stays paused.
 * Pieces dropped this way were never recorded as verified, so they are
 * fetched again when it continues.
 */
export function gatedPool(pool: WorkerPool, gate: Gate): WorkerPool {
  type Open = WorkerPool["open"];
  const open = (cmd: Parameters<Open>[0], onEvent: Parameters<Open>[1]): number => {
    // A connection id no worker knows: get and close on it do nothing.
    if (!gate.open) return -1;
    return pool.open(cmd, (e) => {
      if (gate.open) onEvent(e);
    });
  };
  // Methods are bound once (pool.get runs for every piece requested).
  const bound = new Map<PropertyKey, unknown>([["open", open]]);
  return new Proxy(pool, {
    get(target, prop) {
      if (bound.has(prop)) return bound.get(prop);
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      const f = value.bind(target);
      bound.set(prop, f);
      return f;
    },
  });
}
