/** What Linux's /proc says about a process and the machine: CPU time, peak memory, I/O. */

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
    return (f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!) / USER_HZ;
  } catch {
    return null;
  }
}

/** Peak resident memory of process `pid` in MiB (NaN where /proc does not say). */
export function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** The bytes process `pid` has read and written so far (`/proc/<pid>/io`). */
export function ioBytes(pid: number): { rchar: number; wchar: number } {
  const text = Deno.readTextFileSync(`/proc/${pid}/io`);
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, "m").exec(text)![1]);
  return { rchar: field("rchar"), wchar: field("wchar") };
}
