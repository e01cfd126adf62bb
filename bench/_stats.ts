/** Latency percentiles and process CPU time for the benchmark. */

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

/** Clock ticks per second of /proc/<pid>/stat on Linux (USER_HZ). */
const USER_HZ = 100;

/** CPU seconds (user + system) used so far by process `pid`, or null where /proc is missing. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The command name (field 2) may hold spaces; count fields after its ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  } catch {
    return null;
  }
}

/** CPU seconds (all cores, busy time only) the whole machine has used since boot, or null. */
export function machineCpuSeconds(): number | null {
  try {
    const line = Deno.readTextFileSync("/proc/stat").split("\n", 1)[0]!;
    // cpu user nice system idle iowait irq softirq steal ...
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const busy = f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!;
    return busy / USER_HZ;
  } catch {
    return null;
  }
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
