/** How a download is shown by `show_downloads`. */
import type { Download } from "./download.ts";

/** `[D] [g1] movie.mkv  42.1%  310 MB/s  3 peers  ETA 2s`, `[C] [g1] movie.mkv`, `[F] [g1] x.iso <reason>`. */
export function formatDownload(d: Download): string {
  const head = `[${d.status === "V" ? "D" : d.status}] [${d.rec.group}] ${d.rec.name}`;
  if (d.status === "C") return head;
  if (d.status === "F") return `${head}  ${d.error ?? "failed"}`;
  const pct = d.n === 0 ? 100 : (100 * d.haveCount) / d.n;
  if (d.status === "V") return `${head}  ${pct.toFixed(1)}%  verifying`;
  const rate = d.rate;
  const left = (d.n - d.haveCount) * d.rec.pieceSize;
  const eta = rate > 0 ? `ETA ${formatSecs(left / rate)}` : "ETA -";
  const peers = d.peerCount;
  return `${head}  ${pct.toFixed(1)}%  ${(rate / 1e6).toFixed(1)} MB/s  ${peers} peer${
    peers === 1 ? "" : "s"
  }  ${eta}`;
}

function formatSecs(s: number): string {
  if (s < 60) return `${Math.ceil(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${Math.ceil(s % 60)}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}
