/** The benchmark's goals and how its figures are printed: aligned tables and one JSON line. */
import type { FailoverResult } from "./_failover.ts";
import type { ThroughputResult } from "./_load.ts";
import { type LatencySummary, medianMinMax } from "./_stats.ts";
import type { DelaySummary, SyncDelay } from "./_sync_delay.ts";

/** What the tracker pair should achieve on loopback. */
export const GOALS = {
  writeP50Ms: 1,
  writeP99Ms: 5,
  writesPerSec: 5_000,
  readsPerSec: 20_000,
  failoverMs: 1_000,
} as const;

/** Everything one benchmark run measured; a part that was not run is null or empty. */
export interface BenchResults {
  mode: "full" | "quick";
  env: { deno: string; cpus: number; os: string; loadavg: number | null };
  writeCmd: string;
  readCmd: string;
  writeLatency: LatencySummary | null;
  readLatency: LatencySummary | null;
  /** CPU use during the latency runs, as in {@linkcode ThroughputResult.cpuPercent}. */
  latencyCpu: Record<string, number | null> | null;
  syncDelay: SyncDelay | null;
  writes: ThroughputResult[];
  reads: ThroughputResult[];
  failover: FailoverResult | null;
}

/** The figures compared with their goals; null where the part was not run. */
function verdicts(r: BenchResults) {
  const peak = (list: ThroughputResult[]) =>
    list.length === 0 ? null : Math.max(...list.map((t) => t.opsPerSec));
  const peakWrites = peak(r.writes);
  const peakReads = peak(r.reads);
  const failover = r.failover ? medianMinMax(r.failover.rounds.map((x) => x.failoverMs)) : null;
  const rejoin = r.failover ? medianMinMax(r.failover.rounds.map((x) => x.rejoinMs)) : null;
  const check = <T>(v: T | null, ok: (v: T) => boolean) => v === null ? null : ok(v);
  return {
    peakWrites,
    peakReads,
    failover,
    rejoin,
    met: {
      writeP50: check(r.writeLatency, (l) => l.p50 <= GOALS.writeP50Ms),
      writeP99: check(r.writeLatency, (l) => l.p99 <= GOALS.writeP99Ms),
      writesPerSec: check(peakWrites, (x) => x >= GOALS.writesPerSec),
      readsPerSec: check(peakReads, (x) => x >= GOALS.readsPerSec),
      failover: check(failover, (f) => f.max <= GOALS.failoverMs),
    },
  };
}

/** CPU use by other processes (percent of one core) above which a run counts as disturbed. */
const NOISY_OTHER_CPU = 25;

const ms = (x: number) => `${x.toFixed(x < 10 ? 3 : 1)} ms`;
const rate = (x: number) => `${Math.round(x).toLocaleString("en-US")} /s`;
const mark = (ok: boolean | null) => ok === null ? "" : ok ? "ok" : "MISSED";

function summaryRows(r: BenchResults): string[][] {
  const v = verdicts(r);
  const rows = [["figure", "measured", "goal", ""]];
  const wl = r.writeLatency, rl = r.readLatency;
  if (wl && rl) {
    rows.push(
      [
        `write latency p50 (${r.writeCmd}, n=${wl.count})`,
        ms(wl.p50),
        "<= 1 ms",
        mark(v.met.writeP50),
      ],
      ["write latency p99", ms(wl.p99), "<= 5 ms", mark(v.met.writeP99)],
      ["write latency max", ms(wl.max), "", ""],
      [`read latency p50 (${r.readCmd}, n=${rl.count})`, ms(rl.p50), "", ""],
      ["read latency p99", ms(rl.p99), "", ""],
    );
  }
  const sd = r.syncDelay;
  if (sd) {
    const d = (x: DelaySummary) => `${ms(x.p50)} (${ms(x.min)} .. ${ms(x.max)})`;
    rows.push(
      [
        `secondary applied minus client got ack (n=${sd.applyMinusAck.count})`,
        d(sd.applyMinusAck),
        "",
        "",
      ],
      ["secondary applied minus primary applied", d(sd.secondaryMinusPrimary), "", ""],
    );
  }
  if (v.peakWrites !== null) {
    const goal = `>= ${rate(GOALS.writesPerSec)}`;
    rows.push(["peak replicated writes", rate(v.peakWrites), goal, mark(v.met.writesPerSec)]);
  }
  if (v.peakReads !== null) {
    const goal = `>= ${rate(GOALS.readsPerSec)}`;
    rows.push(["peak reads", rate(v.peakReads), goal, mark(v.met.readsPerSec)]);
  }
  if (r.failover && v.failover && v.rejoin) {
    const f = v.failover;
    const failed = r.failover.failedWrites.length;
    rows.push(
      [`failover median (n=${r.failover.rounds.length})`, ms(f.median), "", ""],
      [
        "  of which until survivor promoted (median)",
        ms(medianMinMax(r.failover.rounds.map((x) => x.promotedMs)).median),
        "",
        "",
      ],
      ["failover min / max", `${ms(f.min)} / ${ms(f.max)}`, "<= 1000 ms", mark(v.met.failover)],
      [
        `rejoin: restart + catch-up (${r.failover.rounds.map((x) => x.catchUp).join(", ")})`,
        `${ms(v.rejoin.min)} .. ${ms(v.rejoin.max)}`,
        "",
        "",
      ],
      ["writes failed during failover", String(failed), "0", mark(failed === 0)],
    );
  }
  return rows;
}

function throughputRows(r: BenchResults): string[][] {
  const rows = [[
    "throughput",
    "conns x depth",
    "ops/s",
    "p50 ms",
    "p99 ms",
    "errors",
    "cpu% t1",
    "t2",
    "bench",
    "other",
  ]];
  const series = [[`writes (${r.writeCmd})`, r.writes], [`reads (${r.readCmd})`, r.reads]] as const;
  for (const [name, list] of series) {
    for (const t of list) {
      const cpu = (k: string) => t.cpuPercent[k] == null ? "-" : t.cpuPercent[k]!.toFixed(0);
      rows.push([
        name,
        `${t.clients} x ${t.depth}`,
        Math.round(t.opsPerSec).toLocaleString("en-US"),
        t.latency.p50.toFixed(2),
        t.latency.p99.toFixed(2),
        String(t.errors),
        cpu("tracker1"),
        cpu("tracker2"),
        cpu("bench"),
        cpu("other"),
      ]);
    }
  }
  return rows;
}

/** The human-readable report. */
export function formatReport(r: BenchResults): string {
  const e = r.env;
  const out = [
    `shoal tracker benchmark (${r.mode}): deno ${e.deno}, ${e.os}, ${e.cpus} CPUs, ` +
    `load average ${e.loadavg ?? "?"} at start; trackers and clients on one host (loopback)`,
    "",
    table(summaryRows(r), "lrll"),
  ];
  if (r.writes.length + r.reads.length > 0) {
    out.push(
      "",
      table(throughputRows(r), "lrrrrrrrrr"),
      "cpu%: percent of one core during the run; other: the rest of the machine (noise)",
    );
  }
  const latencyNoise = r.latencyCpu?.other ?? 0;
  if (latencyNoise > NOISY_OTHER_CPU) {
    out.push(
      `warning: other processes used ${Math.round(latencyNoise)}% CPU during the latency runs; ` +
        "the latency tail is inflated (re-run on a quiet machine)",
    );
  }
  const busy = [...r.writes, ...r.reads].map((t) => t.cpuPercent.other ?? 0);
  if (busy.some((x) => x > NOISY_OTHER_CPU)) {
    out.push(
      `warning: other processes used up to ${Math.round(Math.max(...busy))}% CPU during the ` +
        "throughput runs; these figures understate the trackers (re-run on a quiet machine)",
    );
  }
  for (const t of [...r.writes, ...r.reads]) {
    if (t.firstError) out.push(`first error with ${t.clients} connections: ${t.firstError}`);
  }
  for (const err of new Set(r.failover?.failedWrites ?? [])) {
    out.push(`failover write error: ${err}`);
  }
  return out.join("\n");
}

/** The machine-readable summary (one JSON object). */
export function toJson(r: BenchResults): Record<string, unknown> {
  const v = verdicts(r);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  const lat = (s: LatencySummary | null) =>
    s &&
    {
      count: s.count,
      p50: round(s.p50),
      p99: round(s.p99),
      max: round(s.max),
      mean: round(s.mean),
    };
  const delay = (s: DelaySummary) => ({ ...lat(s), min: round(s.min) });
  const tp = (t: ThroughputResult) => ({
    clients: t.clients,
    depth: t.depth,
    ops_per_s: Math.round(t.opsPerSec),
    ops: t.ops,
    errors: t.errors,
    p50_ms: round(t.latency.p50),
    p99_ms: round(t.latency.p99),
    cpu_percent: roundAll(t.cpuPercent),
  });
  return {
    bench: "tracker",
    mode: r.mode,
    env: r.env,
    write_cmd: r.writeCmd,
    read_cmd: r.readCmd,
    write_latency_ms: lat(r.writeLatency),
    read_latency_ms: lat(r.readLatency),
    latency_cpu_percent: r.latencyCpu && roundAll(r.latencyCpu),
    sync_delay_ms: r.syncDelay && {
      apply_minus_ack: delay(r.syncDelay.applyMinusAck),
      secondary_minus_primary: delay(r.syncDelay.secondaryMinusPrimary),
      skipped: r.syncDelay.skipped,
    },
    write_throughput: r.writes.map(tp),
    read_throughput: r.reads.map(tp),
    peak_writes_per_s: v.peakWrites === null ? null : Math.round(v.peakWrites),
    peak_reads_per_s: v.peakReads === null ? null : Math.round(v.peakReads),
    failover_ms: r.failover && v.failover
      ? {
        median: round(v.failover.median),
        min: round(v.failover.min),
        max: round(v.failover.max),
        rounds: r.failover.rounds.map((x) => ({
          killed: x.killed,
          failover_ms: round(x.failoverMs),
          promoted_ms: round(x.promotedMs),
          rejoin_ms: round(x.rejoinMs),
          catch_up: x.catchUp,
        })),
        writes: r.failover.writes,
        failed_writes: r.failover.failedWrites.length,
      }
      : null,
    goals: { ...GOALS },
    goals_met: v.met,
  };
}

function roundAll(cpu: Record<string, number | null>): Record<string, number | null> {
  return Object.fromEntries(
    Object.entries(cpu).map(([k, x]) => [k, x === null ? null : Math.round(x)]),
  );
}

/** Aligns `rows` into columns; `align` has one `l` or `r` per column. */
function table(rows: string[][], align: string): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) =>
    r.map((cell, i) => align[i] === "r" ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))
      .join("  ").trimEnd()
  ).join("\n");
}
