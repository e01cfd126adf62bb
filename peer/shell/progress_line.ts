/**
 * The live progress line `wait` shows on a terminal: one line, redrawn in
 * place about every second, with each running download's %, MB/s, ETA and
 * peers.
 */
import type { DownloadInfo } from "../download/download_view.ts";

/** The line for the running downloads, cut to `width` characters. */
export function progressLine(downloads: DownloadInfo[], width: number): string {
  const running = downloads.filter((d) => d.state === "D" || d.state === "S" || d.state === "V");
  if (running.length === 0) return "";
  const parts = running.map((d) => {
    const head = `${d.name} ${d.percent.toFixed(1)}%`;
    if (d.state === "V") return `${head} verifying`;
    if (d.state === "S") return `${head} stalled`;
    const eta = d.eta === null ? "-" : formatEta(d.eta);
    return `${head} ${(d.rate / 1e6).toFixed(1)} MB/s ETA ${eta} ${d.peers} peer${
      d.peers === 1 ? "" : "s"
    }`;
  });
  const line = parts.join(" | ");
  const max = Math.max(10, width - 1);
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** `42s`, `3m05s`, `2h10m`. */
export function formatEta(s: number): string {
  if (s < 60) return `${Math.ceil(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.ceil(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** Redraws the line in place: carriage return, the line, erase to its end. */
export function redraw(line: string): string {
  return `\r${line}\x1b[K`;
}
