/**
 * The grants a serving peer no longer honours: the revocations the trackers
 * sent (tracker_watch.ts), kept for as long as a grant they void could still
 * be unexpired. A logout (a revocation naming a user and no group or file)
 * also voids the identity certificates issued to that user before it: their
 * serials say where in the log they were issued. Pure: the time comes in with
 * every call.
 */
import {
  before,
  type Grant,
  GRANT_TTL_MS,
  type RevocationNews,
  revokes,
} from "../../shared/grant.ts";
import type { Revocation } from "../../shared/grant.ts";
import { IDENTITY_TTL_MS } from "../../shared/constants.ts";
import { serialPosition } from "../../shared/tls/serial.ts";

/**
 * A revocation is kept this long after it arrives: every grant and identity
 * certificate it voids has expired by then.
 */
export const KEEP_MS = Math.max(GRANT_TTL_MS, IDENTITY_TTL_MS) + 60_000;

/** Revocations heard from the trackers. */
export class RevokedGrants {
  #rules: { rev: Revocation; at: number }[] = [];
  #floor = { ep: 0, index: 0 };

  /** Takes what a watch brought at `now`. */
  add(news: RevocationNews, now: number): void {
    const floor = { ep: news.floorEp ?? 0, index: news.floor };
    if (before(this.#floor.ep, this.#floor.index, floor.ep, floor.index)) this.#floor = floor;
    for (const rev of news.revocations) this.#rules.push({ rev, at: now });
    while (this.#rules.length > 0 && now - this.#rules[0]!.at > KEEP_MS) this.#rules.shift();
  }

  /** Whether `grant` is void. */
  voids(grant: Grant): boolean {
    if (before(grant.ep ?? 0, grant.idx ?? 0, this.#floor.ep, this.#floor.index)) return true;
    return this.#rules.some((r) => revokes(r.rev, grant));
  }

  /**
   * Whether the identity certificate `cert` is void: its user logged out
   * after it was issued. A certificate whose serial names no log position is
   * never void here.
   */
  voidsIdentity(cert: { name: string; serial: string }): boolean {
    const at = serialPosition(cert.serial);
    if (!at) return false;
    return this.#rules.some(({ rev }) =>
      rev.user === cert.name && rev.group === undefined && rev.name === undefined &&
      before(at.ep, at.idx, rev.ep ?? 0, rev.index)
    );
  }
}
