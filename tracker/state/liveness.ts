/**
 * Which logged-in peers are alive: soft state beside the replicated log,
 * never written to it. A peer keeps its session alive with `watch` requests
 * (or any request with its token); a session not heard from for
 * {@linkcode LEASE_INTERVALS} of its keepalive intervals is offline, and so
 * is one whose watching connection closed. Pure: the time comes in with
 * every call.
 */

/** Keepalive intervals after which a silent session is offline. */
export const LEASE_INTERVALS = 3;
import { DEFAULT_KEEPALIVE_MS } from "../../shared/constants.ts";

export { DEFAULT_KEEPALIVE_MS };

interface Lease {
  until: number;
  intervalMs: number;
}

/** Leases of the sessions this tracker has heard from. */
export class Liveness {
  #leases = new Map<string, Lease>();

  /** The session `token` spoke at `now`; `intervalMs` is its keepalive interval if it said so. */
  heard(token: string, now: number, intervalMs?: number): void {
    const old = this.#leases.get(token);
    const interval = intervalMs ?? old?.intervalMs ?? DEFAULT_KEEPALIVE_MS;
    this.#leases.set(token, { until: now + LEASE_INTERVALS * interval, intervalMs: interval });
  }

  /** The session's watching connection closed at `now`: offline until it speaks again. */
  lost(token: string, now: number): void {
    const old = this.#leases.get(token);
    if (old) old.until = Math.min(old.until, now);
  }

  /** The session ended (logout, or replaced by a new login). */
  forget(token: string): void {
    this.#leases.delete(token);
  }

  /**
   * After a failover the new primary has heard nobody yet: every session
   * gets one lease from `now`, and those that do not re-attach in it go
   * offline.
   */
  graceAll(tokens: Iterable<string>, now: number): void {
    for (const token of tokens) {
      const interval = this.#leases.get(token)?.intervalMs ?? DEFAULT_KEEPALIVE_MS;
      this.#leases.set(token, { until: now + LEASE_INTERVALS * interval, intervalMs: interval });
    }
  }

  /** Whether the session was heard from within its lease at `now`. */
  online(token: string, now: number): boolean {
    const lease = this.#leases.get(token);
    return lease !== undefined && now < lease.until;
  }

  /** Leases kept (also of sessions that ended without a logout this tracker saw). */
  get size(): number {
    return this.#leases.size;
  }

  /** Drops the leases of tokens that are no longer sessions. */
  prune(isSession: (token: string) => boolean): void {
    for (const token of this.#leases.keys()) if (!isSession(token)) this.#leases.delete(token);
  }

  /** Sessions with a lease (for status pages). */
  onlineCount(now: number): number {
    let n = 0;
    for (const l of this.#leases.values()) if (now < l.until) n++;
    return n;
  }
}
