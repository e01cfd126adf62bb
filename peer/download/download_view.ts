/**
 * How downloads are shown: as `show_downloads` lines and `wait`'s time-out
 * message, and as the structured entries the web API and page show.
 */
import { countBits, hasBit } from "../../shared/bitfield.ts";
import { finalPathOf, partPathOf } from "./download_records.ts";
import type { DownloadRecord } from "../store/peer_db.ts";
import type { SessionStatus } from "./session.ts";

/** What the view reads of a download that runs in this process (a {@link ./driver.ts} driver). */
export interface LiveDownload {
  readonly rec: DownloadRecord;
  /** Pieces in the file. */
  readonly n: number;
  /** Verified pieces. */
  readonly haveCount: number;
  readonly status: SessionStatus;
  readonly error: string | null;
  /** Why it cannot finish now, or null. */
  readonly stalled: string | null;
  /** Bytes per second. */
  readonly rate: number;
  /** Connected peers. */
  readonly peerCount: number;
}

/** What {@linkcode formatDownload} knows besides the record. */
export interface ViewOptions {
  /** The running download of the record, if it runs in this process. */
  live?: LiveDownload;
  /** Set when every user's downloads are listed: whose this one is. */
  owner?: string;
}

/**
 * One `show_downloads` line:
 * `[D] [g1] movie.bin  42.1%  3.1 MB/s  3 peers  ETA 2s`,
 * `[D] [g1] movie.bin  42.1%  verifying`,
 * `[S] [g1] movie.bin  42.1%  stalled: no online peer has 41 of 128 pieces`,
 * `[P] [g1] movie.bin  42.1%  paused`, `[C] [g1] movie.bin`,
 * `[F] [g1] x.iso  <reason>`; with `owner`, the line starts with `alice: `.
 * An unfinished download that does not run (its user is not logged in) is
 * `alice: [D] ... 42.1%  waits for alice to log in`.
 */
export function formatDownload(rec: DownloadRecord, options: ViewOptions = {}): string {
  const d = options.live;
  const owner = options.owner === undefined ? "" : `${options.owner || "(nobody)"}: `;
  const status = d?.status === "D" && d.stalled !== null
    ? "S"
    : d?.status === "V"
    ? "D"
    : rec.status;
  const head = `${owner}[${status}] [${rec.group}] ${rec.name}`;
  if (rec.status === "C" || d?.status === "C") return head;
  if (rec.status === "F" || d?.status === "F") {
    return `${head}  ${d?.error ?? rec.error ?? "failed"}`;
  }
  const n = Math.ceil(rec.size / rec.pieceSize);
  const have = d?.haveCount ?? countBits(rec.have, n);
  const pct = `${(n === 0 ? 100 : (100 * have) / n).toFixed(1)}%`;
  if (rec.status === "P") return `${head}  ${pct}  paused`;
  if (!d) {
    return options.owner === undefined
      ? `${head}  ${pct}  not running`
      : `${head}  ${pct}  waits for ${rec.user || "its user"} to log in`;
  }
  if (d.status === "V") return `${head}  ${pct}  verifying`;
  const stalled = d.stalled;
  if (stalled !== null) return `${head}  ${pct}  stalled: ${stalled}`;
  const rate = d.rate;
  const left = (d.n - d.haveCount) * rec.pieceSize;
  const eta = rate > 0 ? `ETA ${formatSecs(left / rate)}` : "ETA -";
  const peers = d.peerCount;
  return `${head}  ${pct}  ${(rate / 1e6).toFixed(1)} MB/s  ${peers} peer${
    peers === 1 ? "" : "s"
  }  ${eta}`;
}

/** A download `wait` gave up on: `[g1] a.bin (stalled: ...)`, `[g1] b.bin (42.0%)`. */
export function describeUnfinished(d: LiveDownload): string {
  const head = `[${d.rec.group}] ${d.rec.name}`;
  if (d.status === "V") return `${head} (verifying)`;
  const stalled = d.stalled;
  if (stalled !== null) return `${head} (stalled: ${stalled})`;
  const pct = d.n === 0 ? 100 : (100 * d.haveCount) / d.n;
  return `${head} (${pct.toFixed(1)}%)`;
}

/** A download as the JSON API and the page show it (`show_downloads`' data). */
export interface DownloadInfo {
  /** Whose download it is. */
  user: string;
  group: string;
  name: string;
  /** `D` downloading, `S` stalled, `V` verifying the whole file, `P` paused, `C` complete, `F` failed, `W` waits for its user to log in. */
  state: "D" | "S" | "V" | "P" | "C" | "F" | "W";
  size: number;
  sha1: string;
  pieces: number;
  /** Verified pieces. */
  have: number;
  /** 0 to 100. */
  percent: number;
  /** Bytes per second now (0 unless it runs). */
  rate: number;
  /** Connected peers. */
  peers: number;
  /** Seconds left at the current rate; null when unknown. */
  eta: number | null;
  /** Why it cannot finish now (stalled) or why it failed; null otherwise. */
  reason: string | null;
  /** Where the file lies once complete, and where its pieces are until then. */
  path: string;
  part: string;
  /** Up to {@linkcode MAP_CELLS} cells, each the share (0 to 1) of its run of pieces that is verified. */
  map: number[];
}

/** The most cells of a download's piece map. */
export const MAP_CELLS = 100;

/** The structured entry of a download (see {@linkcode formatDownload} for the fields' sources). */
export function downloadInfo(rec: DownloadRecord, options: ViewOptions = {}): DownloadInfo {
  const d = options.live;
  const n = Math.ceil(rec.size / rec.pieceSize);
  const ended = rec.status === "C" || d?.status === "C"
    ? "C"
    : rec.status === "F" || d?.status === "F"
    ? "F"
    : null;
  const have = ended === "C" ? n : d?.haveCount ?? countBits(rec.have, n);
  const state: DownloadInfo["state"] = ended ??
    (rec.status === "P" ? "P" : !d ? "W" : d.status === "V" ? "V" : d.stalled !== null ? "S" : "D");
  const rate = state === "D" && d ? d.rate : 0;
  const left = Math.max(0, rec.size - have * rec.pieceSize);
  return {
    user: rec.user ?? "",
    group: rec.group,
    name: rec.name,
    state,
    size: rec.size,
    sha1: rec.sha1,
    pieces: n,
    have,
    percent: n === 0 ? 100 : Math.round((1000 * have) / n) / 10,
    rate: Math.round(rate),
    peers: d && state !== "C" && state !== "F" ? d.peerCount : 0,
    eta: state === "D" && rate > 0 ? Math.ceil(left / rate) : null,
    reason: state === "F" ? d?.error ?? rec.error ?? "failed" : state === "S" ? d!.stalled : null,
    path: finalPathOf(rec),
    part: partPathOf(rec),
    // A running download's bits are its driver's (shared with the piece server), not the listed row's.
    map: ended === "C" ? pieceMap(null, n) : pieceMap(d ? d.rec.have : rec.have, n),
  };
}

/** The piece map of `have` (null: every piece) in at most {@linkcode MAP_CELLS} cells. */
export function pieceMap(have: Uint8Array | null, n: number): number[] {
  const cells = Math.min(n, MAP_CELLS);
  const out: number[] = [];
  for (let c = 0; c < cells; c++) {
    const from = Math.floor((c * n) / cells);
    const to = Math.floor(((c + 1) * n) / cells);
    let got = 0;
    for (let p = from; p < to; p++) if (have === null || hasBit(have, p)) got++;
    out.push(Math.round((100 * got) / (to - from)) / 100);
  }
  return out;
}

function formatSecs(s: number): string {
  if (s < 60) return `${Math.ceil(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${Math.ceil(s % 60)}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}
