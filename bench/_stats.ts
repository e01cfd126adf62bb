/** Latency percentiles and process CPU time for the benchmark. */
import { cpuSeconds, machineCpuSeconds } from "../tests/harness/proc_stats.ts";

/** Percentiles of a set of latency samples, in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/** The `q`-quantile (0..1) of ascending `sorted` by the nearest-rank method. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Summarises latency samples (milliseconds). */
export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted.length > 0 ? sorted[sorted.length - 1]! : NaN,
    mean: sorted.length > 0 ? sum / sorted.length : NaN,
  };
}

/** Median, minimum and maximum of a few samples. */
export function medianMinMax(
  samples: readonly number[],
): { median: number; min: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  if (sorted.length === 0) return { median: NaN, min: NaN, max: NaN };
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

/**
 * Starts measuring the CPU use of the named processes; `stop` returns each
 * one's use in percent of one core since the start, and `other` for what the
 * rest of the machine used meanwhile (null where /proc is missing).
 */
export function startCpuMeter(
  processes: Record<string, number>,
): { stop(): Record<string, number | null> } {
  const sample = () => ({
    machine: machineCpuSeconds(),
    procs: Object.fromEntries(Object.entries(processes).map(([k, pid]) => [k, cpuSeconds(pid)])),
  });
  const before = sample();
  const start = performance.now();
  return {
    stop() {
      const after = sample();
      const seconds = (performance.now() - start) / 1000;
      const percent = (a: number | null | undefined, b: number | null | undefined) =>
        a == null || b == null ? null : (100 * (b - a)) / seconds;
      const out: Record<string, number | null> = {};
      let ours = 0;
      for (const k of Object.keys(processes)) {
        out[k] = percent(before.procs[k], after.procs[k]);
        ours += out[k] ?? 0;
      }
      const machine = percent(before.machine, after.machine);
      out.other = machine === null ? null : Math.max(0, machine - ours);
      return out;
    },
  };
}
