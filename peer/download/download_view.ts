/** How downloads are shown by `show_downloads` and by `wait` when it times out. */
import { countBits } from "../../shared/bitfield.ts";
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

function formatSecs(s: number): string {
  if (s < 60) return `${Math.ceil(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${Math.ceil(s % 60)}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}
