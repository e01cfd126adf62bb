/**
 * What each benchmark script prints as its last (JSON) line, and small
 * helpers to read and format those figures in the report.
 */
import { medianMinMax } from "./_stats.ts";

/** One file size and seeder count of a download benchmark, with a figure per run. */
export interface Row {
  sizeMiB: number;
  seeders: number;
  seconds: number[];
  rss: number[];
  cpu: number[];
}

/** Upload times (`upload_file`, from the command to its "shared" line) of one file size. */
export interface Uploads {
  mib: number;
  seconds: number[];
}

/** The flash crowd: per run, every downloader's completion time in seconds, ascending. */
export interface Crowd {
  mib: number;
  downloaders: number;
  runs: number[][];
}

/** One download with a kill of the primary tracker: times in seconds from the download command. */
export interface FailoverRun {
  /** When the primary was killed. */
  killAt: number;
  /** From the kill until the downloader's next tracker command succeeded, in ms. */
  nextCommandMs: number;
  /** Until the verified file was in place. */
  seconds: number;
  /** Progress samples: time and percent of the file verified. */
  samples: { t: number; pct: number }[];
}

/** One throughput run of the tracker benchmark. */
export interface TrackerThroughput {
  clients: number;
  ops_per_s: number;
  p50_ms: number;
  p99_ms: number;
}

/** Percentiles of a set of samples in ms, as the tracker benchmark prints them. */
export interface Percentiles {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** Median, min and max. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** bench/tracker_bench.ts's JSON line (the parts the report uses). */
export interface TrackerJson {
  write_latency_ms: Percentiles | null;
  read_latency_ms: Percentiles | null;
  sync_delay_ms: {
    apply_minus_ack: Percentiles & { min: number };
    secondary_minus_primary: Percentiles & { min: number };
    skipped: number;
  } | null;
  write_throughput: TrackerThroughput[];
  read_throughput: TrackerThroughput[];
  failover_ms: Spread | null;
}

/** bench/swarm_bench.ts's JSON line. */
export interface SwarmJson {
  swarm: Row[];
  uploads: Uploads[];
  crowd: Crowd;
}

/** bench/failover_download_bench.ts's JSON line. */
export interface FailoverJson {
  failover: { mib: number; runs: FailoverRun[] };
}

/** bench/floor_bench.ts's JSON line: wall milliseconds per GiB of each stage alone. */
export interface FloorJson {
  floor: {
    sha1_subtle_ms: number;
    sha1_node_ms: number;
    write_fresh_ms: number;
    write_resident_ms: number;
    /** Absent in results from before drop-behind. */
    write_dropped_ms?: number;
    loopback_ms: number;
    /** The same over TLS, node:tls server to Deno client; absent in results from before TLS. */
    loopback_tls_ms?: number;
  };
}

/** bench/aria2_compare.ts's JSON line. */
export interface Aria2Json {
  aria2: Row[] | null;
  skipped?: string;
}

/** What one child benchmark produced: its final JSON line, or why there is none. */
export interface Part<T> {
  data: T | null;
  seconds: number;
  note?: string;
}

/** Every part of one report run. */
export interface Results {
  quick: boolean;
  floor: Part<FloorJson>;
  tracker: Part<TrackerJson>;
  swarm: Part<SwarmJson>;
  failover: Part<FailoverJson>;
  aria2: Part<Aria2Json>;
  lan: Part<LanJson>;
}

/** What one testbed host received over time: seconds since the start, cumulative bytes. */
export interface RxSeries {
  host: string;
  t: number[];
  bytes: number[];
}

/** One LAN case: each run's seconds for shoal and, if it ran, aria2. */
export interface LanCase {
  name: string;
  seconds: number[];
  ideal: number;
  /** Absent in results from before the aria2 arm, or when aria2 is not installed. */
  aria2?: number[];
}

/** The LAN flash crowd of one client: per run, every completion time ascending; the seeder's copies. */
export interface LanCrowdRuns {
  runs: number[][];
  seederCopies: number[];
}

/** What bench/lan_bench.ts prints as its last line. */
export interface LanJson {
  lan: {
    mib: number;
    runs: number;
    cases: LanCase[];
    crowd: LanCrowdRuns & {
      ideal: number;
      bound: number;
      /** aria2's crowd, if it ran. */
      aria2?: LanCrowdRuns;
      /**
       * Each downloader's received bytes during one crowd run per client (the
       * run of the median last completion), sampled every `intervalMs`.
       */
      rate?: { intervalMs: number; shoal: RxSeries[]; aria2?: RxSeries[] };
    };
    /** The aria2c and opentracker setup, or why that arm did not run. */
    aria2?: { settings: string } | { skipped: string };
  } | null;
  skipped?: string;
}

/** A measure of a download row. */
export type RowMetric = "time s" | "MB/s" | "peak RSS MiB" | "CPU s" | "CPU s/GiB";

/** Megabytes (10^6 bytes) in `mib` MiB. */
export const megabytes = (mib: number): number => (mib * 1048576) / 1e6;

/** Median, min and max of one measure of a row (MB/s and CPU per GiB derive from the runs). */
export function rowStat(row: Row, metric: RowMetric): Spread {
  if (metric === "time s") return medianMinMax(row.seconds);
  if (metric === "peak RSS MiB") return medianMinMax(row.rss);
  if (metric === "CPU s") return medianMinMax(row.cpu);
  if (metric === "CPU s/GiB") return medianMinMax(row.cpu.map((c) => c / (row.sizeMiB / 1024)));
  return medianMinMax(row.seconds.map((s) => megabytes(row.sizeMiB) / s));
}

/** The row of `mib` MiB from `seeders` seeders, if measured. */
export function findRow(rows: Row[] | null | undefined, mib: number, seeders: number) {
  return rows?.find((r) => r.sizeMiB === mib && r.seeders === seeders);
}

/** Human label of a file size in MiB: `256 KiB`, `64 MiB`, `1 GiB`. */
export function sizeLabel(mib: number): string {
  if (mib < 1) return `${+(mib * 1024).toFixed(1)} KiB`;
  return mib >= 1024 && mib % 1024 === 0 ? `${mib / 1024} GiB` : `${+mib.toFixed(2)} MiB`;
}

/** `x` with `d` decimals. */
export const fmtN = (x: number, d: number): string => x.toFixed(d);

/** "median (min-max)" with `d` decimals. */
export const mmm = (s: Spread, d: number): string =>
  `${fmtN(s.median, d)} (${fmtN(s.min, d)}-${fmtN(s.max, d)})`;

/** Decimals that show about three significant digits of `x`. */
export const digits = (x: number): number => (Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2);

/**
 * MB/s between consecutive progress samples of a failover run, from `t` to
 * `end`; `flowing` is false before the first verified piece and after the last.
 */
export function progressRate(
  run: FailoverRun,
  mib: number,
): { t: number; end: number; mbps: number; flowing: boolean }[] {
  const out = [];
  for (let i = 1; i < run.samples.length; i++) {
    const a = run.samples[i - 1]!, b = run.samples[i]!;
    if (b.t <= a.t) continue;
    const mbps = ((b.pct - a.pct) / 100) * megabytes(mib) / (b.t - a.t);
    out.push({ t: a.t, end: b.t, mbps, flowing: a.pct > 0 && a.pct < 100 || mbps > 0 });
  }
  return out;
}

/** The rows of the peer-count series: the largest size measured with more than one seeder. */
export function peerRows(rows: Row[]): Row[] {
  const multi = rows.filter((r) => r.seeders > 1).map((r) => r.sizeMiB);
  if (multi.length === 0) return [];
  const mib = Math.max(...multi);
  return rows.filter((r) => r.sizeMiB === mib).sort((a, b) => a.seeders - b.seeders);
}

const RESULTS = new URL("./results/", import.meta.url);

/** The figures a benchmark saved as bench/results/`name`, or null when it has not been run. */
export async function readResult<T>(name: string): Promise<T | null> {
  try {
    return JSON.parse(await Deno.readTextFile(new URL(name, RESULTS))) as T;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/**
 * Saves a benchmark's figures as bench/results/`name` for the report, laid
 * out by `deno fmt` so that `deno task check` stays clean.
 */
export async function writeResult(name: string, value: unknown): Promise<void> {
  await Deno.mkdir(RESULTS, { recursive: true });
  const path = new URL(name, RESULTS).pathname;
  await Deno.writeTextFile(path, JSON.stringify(value) + "\n");
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "-q", path] }).output();
}
