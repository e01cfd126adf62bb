/**
 * What the scale benchmark's load processes are told (bench/_scale_child.ts):
 * which users they log in, which groups they set up, and the rates they keep.
 * The parent writes one plan per child as a JSON file.
 */
import type { FileMeta } from "../shared/protocol/client_answers.ts";
import type { Endpoint } from "../shared/tracker_info.ts";

/** One group of the load: its owner shares the file, its downloaders fetch it. */
export interface ScaleGroup {
  group: string;
  /** Index of the owning peer (a complete source of the file). */
  owner: number;
  /** Indexes of the peers that download the file. */
  downloaders: number[];
}

/** Rates of the load, in ms between requests of one peer. */
export interface ScaleRates {
  /** The peers' keepalive interval (`watch` requests; the tracker holds each for half of it). */
  keepaliveMs: number;
  /** A downloader's `report_pieces` interval. */
  reportMs: number;
  /** A downloader's `lookup_file` interval. */
  lookupMs: number;
  /** Pieces named in one report. */
  piecesPerReport: number;
}

/** Everything one load process needs. */
export interface ScalePlan {
  /** The primary's address (the load speaks only to it, as peers do while it lives). */
  primary: Endpoint;
  /** Path of the cluster CA certificate (PEM). */
  caPath: string;
  password: string;
  /** The peers of this process: users `userName(first)` to `userName(first + count - 1)`. */
  first: number;
  count: number;
  groups: ScaleGroup[];
  rates: ScaleRates;
  /** The file every group shares. */
  file: Omit<FileMeta, "group">;
  /** Peers logging in at once in this process. */
  loginConcurrency: number;
}

/** The user name of peer `i`. */
export function userName(i: number): string {
  return `u${i}`;
}

/** The address peer `i` says it serves on (nothing connects to it). */
export function peerAddr(i: number): string {
  return `127.0.${1 + Math.floor(i / 50_000)}.1:${10_000 + (i % 50_000)}`;
}

/** Downloaders per group (each group also has its owner, a complete source). */
export const GROUP_DOWNLOADERS = 10;

/** How the peers are split over the processes, and which of them download. */
export interface Layout {
  peers: number;
  processes: number;
  /** Share of the peers that download (0..0.9). */
  downloading: number;
}

/**
 * Splits `peers` over `processes` plans of consecutive users; in each, the
 * first peers form groups of one owner and {@linkcode GROUP_DOWNLOADERS}
 * downloaders until its share of downloaders is placed.
 */
export function makePlans(
  layout: Layout,
  common: Omit<ScalePlan, "first" | "count" | "groups">,
): ScalePlan[] {
  const plans: ScalePlan[] = [];
  let first = 0;
  for (let k = 0; k < layout.processes; k++) {
    const count = Math.floor((layout.peers * (k + 1)) / layout.processes) - first;
    let left = Math.round(count * layout.downloading);
    const groups: ScaleGroup[] = [];
    let at = first;
    while (left > 0 && at + 1 < first + count) {
      const n = Math.min(GROUP_DOWNLOADERS, left, first + count - at - 1);
      const downloaders = Array.from({ length: n }, (_, j) => at + 1 + j);
      groups.push({ group: `g${at}`, owner: at, downloaders });
      left -= n;
      at += n + 1;
    }
    plans.push({ ...common, first, count, groups });
    first += count;
  }
  return plans;
}
