/**
 * The piece picker: which piece to request next from a peer, as a pure
 * function of what we have, what each peer has and what is in flight.
 * Rarest first, random among equals (within a window near the front of the
 * file, see `window`); in end-game (every missing piece already
 * requested) a piece in flight elsewhere is requested again from this peer.
 */
import { hasBit } from "../../shared/bitfield.ts";

/** What the picker looks at. */
export interface PickInput {
  /** Number of pieces in the file. */
  n: number;
  /** Pieces we have verified. */
  mine: Uint8Array;
  /** Pieces the peer has; null means all. */
  peerHas: Uint8Array | null;
  /** For each piece, how many known peers have it. */
  availability: Uint16Array | Uint32Array;
  /** For each piece in flight, how many requests are out for it. */
  inFlight: Map<number, number>;
  /** Pieces already requested from this peer. */
  fromPeer: Set<number>;
  /** A number in [0, 1) to break ties (Math.random in production). */
  random: () => number;
  /**
   * Break ties only among the first `window` equally rare pieces in file
   * order (default: all of them). A small window keeps the download close to
   * sequential, so the whole-file hash can follow it instead of re-reading
   * the file at the end.
   */
  window?: number;
  /**
   * No piece is held by fewer peers than this (the least of `availability`).
   * Once `window` pieces this rare are found nothing rarer can follow, so the
   * scan stops there instead of running to the end of the file: picking stays
   * cheap for files of hundreds of thousands of pieces. Default 0.
   */
  minAvailability?: number;
  /** Pieces 0 .. haveBefore-1 are all ours, so the scan starts there. Default 0. */
  haveBefore?: number;
  /**
   * In end-game a piece is asked of at most this many peers at once (default
   * unlimited). Without a cap a download with more connections than missing
   * pieces asks every peer for every piece.
   */
  maxRequests?: number;
}

/** The piece to request from this peer next, or -1 if it has nothing we need. */
export function pickPiece(input: PickInput): number {
  const { n, mine, peerHas, availability, inFlight, fromPeer, random } = input;
  const window = input.window ?? Infinity;
  const floor = input.minAvailability ?? 0;
  const maxLoad = input.maxRequests ?? Infinity;
  let best = -1;
  let bestAvail = Infinity;
  let ties = 0;
  let endgame = -1;
  let endgameLoad = Infinity;
  for (let p = input.haveBefore ?? 0; p < n; p++) {
    if ((p & 7) === 0 && mine[p >> 3] === 0xff) {
      p += 7; // Eight pieces we have: skip the whole byte.
      continue;
    }
    if (hasBit(mine, p) || (peerHas !== null && !hasBit(peerHas, p))) continue;
    const load = inFlight.get(p) ?? 0;
    if (load > 0) {
      if (!fromPeer.has(p) && load < endgameLoad && load < maxLoad) {
        endgame = p;
        endgameLoad = load;
      }
      continue;
    }
    const a = availability[p] ?? 0;
    if (a < bestAvail) {
      best = p;
      bestAvail = a;
      ties = 1;
    } else if (a === bestAvail && ties < window) {
      // Reservoir sampling: each of the equally rare pieces is chosen with equal chance.
      ties++;
      if (random() * ties < 1) best = p;
    }
    if (bestAvail <= floor && ties >= window) break;
  }
  return best >= 0 ? best : endgame;
}

/** The least of `availability` (0 for no pieces). */
export function minOf(availability: Uint32Array): number {
  let min = Infinity;
  for (const a of availability) if (a < min) min = a;
  return min === Infinity ? 0 : min;
}

/** Counts, for each piece, how many of `peers` have it (null bitfield = all). */
export function availabilityOf(n: number, peers: Iterable<Uint8Array | null>): Uint32Array {
  const a = new Uint32Array(n);
  for (const has of peers) {
    for (let p = 0; p < n; p++) if (has === null || hasBit(has, p)) a[p]!++;
  }
  return a;
}
