/**
 * The peer's `/metrics` in the Prometheus text format (prom-client): bytes
 * and pieces sent and received, pieces rejected, connections, downloads by
 * state. The counters live where the work happens (the download driver, the
 * piece-server workers); this reads them at each scrape.
 */
import { Gauge, Registry } from "prom-client";
import { totalCounter } from "../../shared/metrics.ts";
import type { Ctx } from "../commands/command.ts";
import type { DownloadInfo } from "../download/download_view.ts";

const STATES: DownloadInfo["state"][] = ["D", "S", "V", "P", "C", "F", "W"];
const STATE_NAMES: Record<DownloadInfo["state"], string> = {
  D: "downloading",
  S: "stalled",
  V: "verifying",
  P: "paused",
  C: "complete",
  F: "failed",
  W: "waiting",
};

/** The registry of one peer. */
export function peerMetrics(ctx: Ctx): Registry {
  const registry = new Registry();
  const files = ctx.files;
  const server = () => files?.server?.stats ?? { bytesSent: 0, piecesSent: 0, connections: 0 };
  const counters = () =>
    files?.counters ?? { bytesReceived: 0, piecesVerified: 0, piecesRejected: 0 };
  totalCounter(registry, {
    name: "shoal_peer_received_bytes_total",
    help: "Bytes of verified pieces downloaded",
    read: () => counters().bytesReceived,
  });
  totalCounter(registry, {
    name: "shoal_peer_sent_bytes_total",
    help: "Bytes of pieces served to other peers",
    read: () => server().bytesSent,
  });
  totalCounter(registry, {
    name: "shoal_peer_pieces_verified_total",
    help: "Downloaded pieces that passed SHA-1",
    read: () => counters().piecesVerified,
  });
  totalCounter(registry, {
    name: "shoal_peer_pieces_rejected_total",
    help: "Downloaded pieces that failed SHA-1 (their sender was dropped)",
    read: () => counters().piecesRejected,
  });
  totalCounter(registry, {
    name: "shoal_peer_pieces_sent_total",
    help: "Pieces served to other peers",
    read: () => server().piecesSent,
  });
  new Gauge({
    name: "shoal_peer_connections",
    help:
      "Open peer connections: download (to peers we fetch from) and upload (from peers we serve)",
    labelNames: ["direction"],
    registers: [registry],
    collect() {
      const live = files?.downloads.live ?? [];
      const out = live.reduce((n, d) => n + (d.status === "D" ? d.peerCount : 0), 0);
      this.set({ direction: "download" }, out);
      this.set({ direction: "upload" }, server().connections);
    },
  });
  new Gauge({
    name: "shoal_peer_downloads",
    help: "Downloads of this peer by state",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      const list = files?.downloads.list() ?? [];
      for (const s of STATES) {
        this.set({ state: STATE_NAMES[s] }, list.filter((d) => d.state === s).length);
      }
    },
  });
  new Gauge({
    name: "shoal_peer_logged_in",
    help: "1 while a user is logged in on this peer",
    registers: [registry],
    collect() {
      this.set(ctx.user === null ? 0 : 1);
    },
  });
  return registry;
}
