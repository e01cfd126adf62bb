/**
 * The tracker's `--http` server (Deno.serve, off by default): a status page
 * at `/` (role, epoch, last op, the other tracker and its lag, peers online,
 * users, groups, files, recent conflicts), the same as JSON at
 * `/status.json`, and `/metrics` in the Prometheus text format (prom-client):
 * requests by command with latency histograms, replication lag, online
 * peers, op-log size, failovers. It holds no secret and changes nothing.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { describeError } from "../../shared/errors.ts";
import { totalCounter } from "../../shared/metrics.ts";
import { log } from "../../shared/log.ts";
import type { Endpoint } from "../../shared/tracker_info.ts";
import { READ_COMMANDS, WRITE_COMMANDS } from "../state/commands.ts";
import type { NodeStatus } from "../replication/node.ts";
import { conflictLine } from "./console.ts";

const logger = log("tracker", "http");

/** What the status page shows, read at each request: the node's status and the state's sizes. */
export type TrackerStatus = NodeStatus & {
  /** Ops the other tracker is behind this one (negative: ahead); null when not connected. */
  lag: number | null;
  peersOnline: number;
  connections: number;
  users: number;
  groups: number;
  files: number;
  /** Entries kept in the op log. */
  opLog: number;
  failovers: number;
};

/** The tracker's metrics; the server and the node feed it. */
export class TrackerMetrics {
  readonly registry = new Registry();
  #requests: Histogram<"cmd" | "ok">;
  #count: Counter<"cmd" | "ok">;

  constructor(status: () => TrackerStatus) {
    this.#requests = new Histogram({
      name: "shoal_tracker_request_seconds",
      help: "Client requests by command and outcome (a watch is held until news or its timeout)",
      labelNames: ["cmd", "ok"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30],
      registers: [this.registry],
    });
    this.#count = new Counter({
      name: "shoal_tracker_requests_total",
      help: "Client requests answered, by command and outcome",
      labelNames: ["cmd", "ok"],
      registers: [this.registry],
    });
    totalCounter(this.registry, {
      name: "shoal_tracker_failovers_total",
      help: "Times this tracker became primary since it started",
      read: () => status().failovers,
    });
    const gauge = (name: string, help: string, read: (s: TrackerStatus) => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(read(status()));
        },
      });
    gauge(
      "shoal_tracker_primary",
      "1 while this tracker is primary",
      (s) => s.role === "primary" ? 1 : 0,
    );
    gauge("shoal_tracker_epoch", "The epoch this tracker is in", (s) => s.epoch);
    gauge("shoal_tracker_last_op_index", "The index of the last op applied here", (s) => s.index);
    gauge(
      "shoal_tracker_replication_lag_ops",
      "Ops the other tracker is behind this one (0 when not connected)",
      (s) => s.lag ?? 0,
    );
    gauge(
      "shoal_tracker_other_connected",
      "1 while the link to the other tracker is up",
      (s) => s.other.connected ? 1 : 0,
    );
    gauge(
      "shoal_tracker_peers_online",
      "Sessions whose peer was heard from lately",
      (s) => s.peersOnline,
    );
    gauge(
      "shoal_tracker_connections",
      "Open connections (clients and the link)",
      (s) => s.connections,
    );
    gauge("shoal_tracker_oplog_entries", "Entries kept in the op log", (s) => s.opLog);
    gauge("shoal_tracker_users", "Users", (s) => s.users);
    gauge("shoal_tracker_groups", "Groups", (s) => s.groups);
    gauge("shoal_tracker_files", "Shared files", (s) => s.files);
  }

  /** One answered request (unknown commands are counted as `other`, so labels stay few). */
  answered(cmd: string, ms: number, ok: boolean): void {
    const known = READ_COMMANDS.has(cmd) || WRITE_COMMANDS.has(cmd) || cmd === "watch";
    const labels = { cmd: known ? cmd : "other", ok: ok ? "true" : "false" };
    this.#requests.observe(labels, ms / 1000);
    this.#count.inc(labels);
  }
}

/** A running status server. */
export interface StatusServer {
  readonly origin: string;
  close(): Promise<void>;
}

/** Serves the status page and /metrics on `addr`. */
export async function startStatusServer(
  addr: Endpoint,
  deps: { status: () => TrackerStatus; metrics: TrackerMetrics },
): Promise<StatusServer> {
  const ready = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: addr.hostname,
    port: addr.port,
    onListen: (a) => ready.resolve(a),
    onError: (err) => {
      logger.warn("Status request failed: {error}", { error: describeError(err) });
      return new Response("internal error\n", { status: 500 });
    },
  }, async (req) => {
    const path = new URL(req.url).pathname;
    if (req.method !== "GET") return new Response("only GET\n", { status: 405 });
    if (path === "/metrics") {
      return new Response(await deps.metrics.registry.metrics(), {
        headers: { "content-type": deps.metrics.registry.contentType },
      });
    }
    if (path === "/status.json") return Response.json(deps.status());
    if (path === "/") {
      return new Response(statusPage(deps.status()), {
        headers: {
          "content-type": "text/html; charset=utf-8",
          "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'",
        },
      });
    }
    return new Response("not found\n", { status: 404 });
  });
  const a = await ready.promise;
  const host = a.hostname.includes(":") ? `[${a.hostname}]` : a.hostname;
  return { origin: `http://${host}:${a.port}`, close: () => server.shutdown() };
}

const esc = (v: unknown) => String(v).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** The status page: plain HTML that refreshes itself every 5 s. */
export function statusPage(s: TrackerStatus): string {
  const other = s.other.connected
    ? `connected, ${s.other.role}, epoch ${s.other.epoch}, last op ${s.other.index} (lag ${s.lag} ops)`
    : "not connected";
  const rows: [string, unknown][] = [
    ["role", s.role],
    ["epoch", s.epoch],
    ["last op", `${s.index} (committed ${s.commitIndex})${s.catchingUp ? ", catching up" : ""}`],
    ["other tracker", other],
    ["peers online", s.peersOnline],
    ["connections", s.connections],
    ["users", s.users],
    ["groups", s.groups],
    ["files", s.files],
    ["op log entries", s.opLog],
    ["failovers", s.failovers],
  ];
  const conflicts = s.conflicts.length === 0
    ? "<p>none</p>"
    : `<ul>${s.conflicts.slice(-20).map((c) => `<li>${esc(conflictLine(c))}</li>`).join("")}</ul>`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="5"><title>shoal tracker ${s.tracker}</title>
<style>body{font:14px/1.5 system-ui,sans-serif;margin:2rem;color:#1d2430}
table{border-collapse:collapse}td,th{padding:.2rem .8rem;border-bottom:1px solid #d9dee6;text-align:left}
th{color:#5c6675;font-weight:600}</style></head><body>
<h1>shoal tracker ${s.tracker}</h1>
<table>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join("")}</table>
<h2>Recent conflicts</h2>${conflicts}
<p><a href="/metrics">/metrics</a> · <a href="/status.json">status.json</a></p>
</body></html>`;
}
