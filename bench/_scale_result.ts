/** What `deno task bench:scale` measured (its JSON line), and its table on stdout. */
import type { ScaleRates } from "./_scale_plan.ts";
import type { LatencySummary } from "./_stats.ts";

/** The goal of issue 14 part 5: these peers within this share of one core, and this write p99. */
export const GOAL = { peers: 10_000, cpuPercent: 20, writeP99Ms: 5 } as const;

/** One tracker process over the steady window. */
export interface ProcessFigures {
  /** CPU in percent of one core. */
  cpuPercent: number | null;
  /** Resident memory before the logins, at the end of the window, and its peak (MiB). */
  rssBeforeMiB: number;
  rssMiB: number;
  peakRssMiB: number;
}

/** The JSON line of bench/tracker_scale_bench.ts. */
export interface ScaleResult {
  bench: "tracker_scale";
  mode: "full" | "quick";
  date: string;
  env: { deno: string; cpus: number; loadavg: number | null };
  peers: number;
  /** Share of the peers downloading, and how many that is. */
  downloading: number;
  downloaders: number;
  groups: number;
  processes: number;
  rates: ScaleRates;
  fileMiB: number;
  /** PBKDF2 iterations of the users' passwords (each login hashes once). */
  iterations: number;
  /** From the first connection to the last login, in seconds. */
  rampSeconds: number;
  loggedIn: number;
  failedLogins: number;
  firstError: string | null;
  /** Sessions the primary counted online at the end of the window. */
  online: number | null;
  /** Logged-in peers without a keepalive answer for 3 intervals, and connections lost. */
  stale: number;
  closed: number;
  /** The steady window. */
  seconds: number;
  /** Requests answered per second in the window, in all and by command. */
  reqPerSec: number;
  byCmd: Record<string, number>;
  refused: number;
  primary: ProcessFigures;
  secondary: ProcessFigures;
  /** CPU of the load processes together, and of the rest of the machine, in % of one core. */
  loadCpuPercent: number | null;
  otherCpuPercent: number | null;
  /** The probe's sequential replicated writes (report_pieces). */
  write: LatencySummary;
  writeErrors: number;
  /** The downloaders' reports meanwhile (also replicated writes, many in flight). */
  reports: LatencySummary;
  goal: { peers: boolean; cpu: boolean; p99: boolean; met: boolean };
}

const f = (x: number | null, d = 1) => x === null || !Number.isFinite(x) ? "-" : x.toFixed(d);

/** The result as aligned rows of name and value. */
export function formatTable(r: ScaleResult): string {
  const rows: [string, string][] = [
    ["peers (logged in / online at the primary)", `${r.loggedIn} / ${r.online ?? "-"}`],
    ["downloading", `${r.downloaders} (${f(100 * r.downloading, 0)}%) in ${r.groups} groups`],
    [
      "rates (keepalive / report / lookup ms)",
      `${r.rates.keepaliveMs} / ${r.rates.reportMs} / ${r.rates.lookupMs}`,
    ],
    ["ramp (connect + login all)", `${f(r.rampSeconds)} s (PBKDF2 ${r.iterations} iterations)`],
    ["failed logins / stale / closed", `${r.failedLogins} / ${r.stale} / ${r.closed}`],
    ["window", `${f(r.seconds)} s`],
    ["requests/s", f(r.reqPerSec, 0)],
    ...Object.entries(r.byCmd).map(([k, v]): [string, string] => [`  ${k}/s`, f(v, 0)]),
    ["refused", String(r.refused)],
    ["primary CPU (% of one core)", f(r.primary.cpuPercent)],
    [
      "primary RSS (before / now / peak MiB)",
      `${f(r.primary.rssBeforeMiB)} / ${f(r.primary.rssMiB)} / ${f(r.primary.peakRssMiB)}`,
    ],
    ["secondary CPU (% of one core)", f(r.secondary.cpuPercent)],
    [
      "secondary RSS (before / now / peak MiB)",
      `${f(r.secondary.rssBeforeMiB)} / ${f(r.secondary.rssMiB)} / ${f(r.secondary.peakRssMiB)}`,
    ],
    ["load processes / rest of machine CPU %", `${f(r.loadCpuPercent)} / ${f(r.otherCpuPercent)}`],
    [
      "probe write p50 / p99 / max ms",
      `${f(r.write.p50, 2)} / ${f(r.write.p99, 2)} / ${
        f(r.write.max, 2)
      } (${r.write.count}, ${r.writeErrors} errors)`,
    ],
    [
      "downloaders' reports p50 / p99 / max ms",
      `${f(r.reports.p50, 2)} / ${f(r.reports.p99, 2)} / ${f(r.reports.max, 2)}`,
    ],
    [
      `goal (${GOAL.peers} peers, CPU <= ${GOAL.cpuPercent}%, p99 <= ${GOAL.writeP99Ms} ms)`,
      r.goal.met
        ? "met"
        : `missed (peers ${yn(r.goal.peers)}, CPU ${yn(r.goal.cpu)}, p99 ${yn(r.goal.p99)})`,
    ],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join("\n");
}

function yn(ok: boolean): string {
  return ok ? "ok" : "no";
}
