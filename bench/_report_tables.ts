/** The markdown tables of docs/PERFORMANCE.md, one function per section. */
import {
  type Aria2Json,
  type Crowd,
  digits,
  type FailoverJson,
  findRow,
  fmtN,
  megabytes,
  mmm,
  type Part,
  progressRate,
  type Row,
  rowStat,
  sizeLabel,
  type SwarmJson,
  type TrackerJson,
} from "./_results.ts";
import { medianMinMax } from "./_stats.ts";

/** Window after a kill in which the download's lowest throughput is looked for, in s. */
export const AFTER_KILL_S = 0.5;

/** A markdown table from a header and rows of cells. */
function table(head: string[], rows: string[][]): string[] {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map((h) => "-".repeat(h.length))), ...rows.map(line)];
}

/** What a report run started from: the code and how busy the machine was. */
export interface RunContext {
  /** `git describe`-like: the commit, and how many files outside docs/ differ from it. */
  code: string;
  /** The 1-minute load average when the run started. */
  load: string;
}

/** The code and the load average, read when the run starts. */
export async function runContext(): Promise<RunContext> {
  const git = async (args: string[]) => {
    const out = await new Deno.Command("git", { args, stdout: "piped", stderr: "null" }).output()
      .catch(() => null);
    return out?.success ? new TextDecoder().decode(out.stdout).trim() : null;
  };
  const head = await git(["rev-parse", "--short", "HEAD"]);
  const changed = (await git(["status", "--porcelain", "--", ".", ":!docs"]))?.split("\n")
    .filter(Boolean).length ?? 0;
  const load = (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ")[0]!;
  return {
    code: head === null
      ? "unknown"
      : changed > 0
      ? `${head} + ${changed} uncommitted file(s)`
      : head,
    load,
  };
}

/** The machine, the Deno version, the code, the load at the start and the mode. */
export async function machineTable(quick: boolean, ctx: RunContext): Promise<string[]> {
  const mem = (await Deno.readTextFile("/proc/meminfo").catch(() => ""))
    .match(/MemTotal:\s+(\d+)/)?.[1];
  const kernel = (await Deno.readTextFile("/proc/version").catch(() => "unknown")).split(" ");
  return table(["cores", "memory", "kernel", "Deno", "code", "load at start", "date", "mode"], [[
    String(navigator.hardwareConcurrency),
    `${mem ? fmtN(Number(mem) / 1048576, 1) : "?"} GiB`,
    kernel.slice(0, 3).join(" "),
    Deno.version.deno,
    ctx.code,
    ctx.load,
    `${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC`,
    quick ? "quick" : "full",
  ]]);
}

/** Per size class: upload_file time and rate, then the one-seeder download's figures. */
export function sizesTable(s: SwarmJson): string[] {
  const rows = s.uploads.flatMap((u) => {
    const d = findRow(s.swarm, u.mib, 1);
    if (!d) return [];
    const up = medianMinMax(u.seconds);
    const upRate = medianMinMax(u.seconds.map((x) => megabytes(u.mib) / x));
    const t = rowStat(d, "time s"), r = rowStat(d, "MB/s");
    return [[
      sizeLabel(u.mib),
      `${u.seconds.length} / ${d.seconds.length}`,
      mmm(up, digits(up.median)),
      mmm(upRate, digits(upRate.median)),
      mmm(t, digits(t.median)),
      mmm(r, digits(r.median)),
      mmm(rowStat(d, "peak RSS MiB"), 0),
      mmm(rowStat(d, "CPU s"), 2),
    ]];
  });
  return table([
    "file",
    "runs up / down",
    "upload_file s",
    "upload MB/s",
    "download s",
    "download MB/s",
    "peak RSS MiB",
    "CPU s",
  ], rows);
}

/** One file from each number of seeders. */
export function seedersTable(rows: Row[]): string[] {
  return table(
    ["seeders", "runs", "time s", "MB/s", "peak RSS MiB", "CPU s"],
    rows.map((r) => [
      String(r.seeders),
      String(r.seconds.length),
      mmm(rowStat(r, "time s"), 2),
      mmm(rowStat(r, "MB/s"), 0),
      mmm(rowStat(r, "peak RSS MiB"), 0),
      mmm(rowStat(r, "CPU s"), 2),
    ]),
  );
}

/** Each crowd run: first, median and last completion, and the crowd's total MB/s. */
export function crowdTable(c: Crowd): string[] {
  return table(
    ["run", "first done s", "median s", "last done s", "total MB/s (all downloaders)"],
    c.runs.map((times, i) => [
      String(i + 1),
      fmtN(times[0]!, 2),
      fmtN(medianMinMax(times).median, 2),
      fmtN(times.at(-1)!, 2),
      fmtN((c.downloaders * megabytes(c.mib)) / times.at(-1)!, 0),
    ]),
  );
}

/**
 * The lowest MB/s of a failover run in the sample intervals that overlap the
 * window after its kill while data was flowing (NaN if the download ended first).
 */
export function lowestAfterKill(f: FailoverJson["failover"], i: number): number {
  const r = f.runs[i]!;
  const after = progressRate(r, f.mib).filter((p) =>
    p.flowing && p.end > r.killAt && p.t <= r.killAt + AFTER_KILL_S
  );
  return after.length ? Math.min(...after.map((p) => p.mbps)) : NaN;
}

/** Each download with a kill of the primary. */
export function failoverTable(f: FailoverJson["failover"]): string[] {
  return table(
    [
      "run",
      "killed at s",
      "next tracker command ms",
      "download s",
      "MB/s overall",
      `lowest MB/s within ${AFTER_KILL_S} s of the kill`,
    ],
    f.runs.map((r, i) => [
      String(i + 1),
      fmtN(r.killAt, 2),
      fmtN(r.nextCommandMs, 0),
      fmtN(r.seconds, 2),
      fmtN(megabytes(f.mib) / r.seconds, 0),
      fmtN(lowestAfterKill(f, i), 0),
    ]),
  );
}

/** Latency, synchronisation delay, throughput and failover of the tracker pair. */
export function trackerTables(t: TrackerJson): string[] {
  const lat = (name: string, l: TrackerJson["write_latency_ms"]) =>
    l ? [[name, String(l.count), fmtN(l.p50, 2), fmtN(l.p99, 2), fmtN(l.max, 2)]] : [];
  const out = [
    "One client, one request at a time (percentiles over the samples of one run):",
    "",
    ...table(["request", "samples", "p50 (median) ms", "p99 ms", "max ms"], [
      ...lat("replicated write (`create_group`)", t.write_latency_ms),
      ...lat("read (`whoami`)", t.read_latency_ms),
    ]),
    "",
  ];
  const sd = t.sync_delay_ms;
  if (sd) {
    const row = (
      name: string,
      d: typeof sd.apply_minus_ack,
    ) => [name, String(d.count), fmtN(d.min, 3), fmtN(d.p50, 3), fmtN(d.p99, 3), fmtN(d.max, 3)];
    out.push(
      "Synchronisation delay. The primary answers a write only after the secondary has applied",
      "and persisted it (the secondary applies, writes its log, then acknowledges), so the op is",
      "on the secondary *before* the client has its answer: the delay from the acknowledgement to",
      "the op being applied on the secondary is negative by design. Measured from both trackers'",
      "own clocks (the console's `status` gives the time each last applied an op, to the",
      "microsecond) after each of a series of writes, one at a time:",
      "",
      ...table(["delay", "samples", "min ms", "p50 ms", "p99 ms", "max ms"], [
        row("applied on the secondary − answer received by the client", sd.apply_minus_ack),
        row("applied on the secondary − applied on the primary", sd.secondary_minus_primary),
      ]),
      "",
    );
  }
  out.push(
    "Throughput, each client with one request in flight (one run per client count):",
    "",
    ...table(
      ["clients", "writes/s", "write p50 / p99 ms", "reads/s", "read p50 / p99 ms"],
      t.write_throughput.map((w) => {
        const r = t.read_throughput.find((x) => x.clients === w.clients);
        return [
          String(w.clients),
          String(w.ops_per_s),
          `${fmtN(w.p50_ms, 2)} / ${fmtN(w.p99_ms, 2)}`,
          String(r?.ops_per_s ?? "-"),
          r ? `${fmtN(r.p50_ms, 2)} / ${fmtN(r.p99_ms, 2)}` : "-",
        ];
      }),
    ),
  );
  if (t.failover_ms) {
    out.push(
      "",
      "Failover after `kill -9` of the primary during a stream of writes (until a write sent after",
      `the kill succeeds): ${mmm(t.failover_ms, 0)} ms.`,
    );
  }
  return out;
}

/** Ratio shoal / aria2 of the medians, for every cell both measured. */
export function comparisonTable(shoal: Row[], aria2: Part<Aria2Json>): string[] {
  if (!aria2.data?.aria2) {
    return [`Comparison with aria2 skipped: ${aria2.data?.skipped ?? aria2.note}.`];
  }
  const rows = aria2.data.aria2.flatMap((a) => {
    const s = findRow(shoal, a.sizeMiB, a.seeders);
    if (!s) return [];
    const ratio = (m: "time s" | "peak RSS MiB" | "CPU s") =>
      fmtN(rowStat(s, m).median / rowStat(a, m).median, 2);
    return [[
      sizeLabel(a.sizeMiB),
      String(a.seeders),
      mmm(rowStat(s, "time s"), 2),
      mmm(rowStat(a, "time s"), 2),
      ratio("time s"),
      ratio("peak RSS MiB"),
      ratio("CPU s"),
    ]];
  });
  return [
    "Ratio shoal / aria2 of the medians (below 1 means shoal is faster or lighter):",
    "",
    ...table(
      ["file", "seeders", "shoal time s", "aria2 time s", "time", "peak RSS", "CPU"],
      rows,
    ),
  ];
}
