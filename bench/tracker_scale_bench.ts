/**
 * The tracker at scale (issue 14, part 5): a real tracker pair under many
 * logged-in peers, each on its own TLS connection, spread over a few load
 * processes. Every peer keeps its session alive as the real peer does
 * (peer/tracker_client/tracker_watch.ts); a share of them download, each
 * reporting pieces and looking the file up at the download session's rates
 * (peer/download/session.ts). A probe peer makes sequential replicated
 * writes meanwhile. Measured over a steady window after every peer is in:
 * the trackers' CPU and memory, the request rate, the probe's write latency.
 *
 *   deno run --allow-all bench/tracker_scale_bench.ts [--peers N] [--downloading F]
 *     [--seconds S] [--processes P] [--keepalive MS] [--probe-ms MS] [--iterations N] [--profile DIR] [--quick]
 *
 * The users are written into the primary's log before it starts
 * (bench/_scale_seed.ts), with `--iterations` PBKDF2 iterations (default
 * the tracker's own), so each login pays its real hash. `--profile DIR` runs
 * the trackers with `--cpu-prof` into DIR (written when they stop at the
 * end). An aligned table
 * goes to stdout, then one JSON line, which a full run also writes to
 * bench/results/tracker_scale.json for docs/PERFORMANCE.md; progress goes to stderr.
 */
import { parseArgs } from "node:util";
import { DEFAULT_KEEPALIVE_MS, PIECE_SIZE } from "../shared/constants.ts";
import { describeError } from "../shared/errors.ts";
import { PARTIAL_REFRESH_MS, REPORT_INTERVAL_MS } from "../peer/download/session.ts";
import { PBKDF2_ITERATIONS } from "../tracker/server/passwords.ts";
import { peakRssMiB } from "../tests/harness/proc_stats.ts";
import { TrackerPair } from "../tests/harness/tracker_pair.ts";
import { Fleet } from "./_scale_fleet.ts";
import type { PeerStats } from "./_scale_peers.ts";
import { makePlans, type ScalePlan, type ScaleRates, userName } from "./_scale_plan.ts";
import { writeResult } from "./_results.ts";
import { Probe, PROBE_USER } from "./_scale_probe.ts";
import { openFileLimit, rssMiB } from "./_scale_proc.ts";
import { formatTable, GOAL, type ProcessFigures, type ScaleResult } from "./_scale_result.ts";
import { seedUsers } from "./_scale_seed.ts";
import { startCpuMeter, summarize } from "./_stats.ts";

const USAGE = "usage: deno run --allow-all bench/tracker_scale_bench.ts [--peers N] " +
  "[--downloading F] [--seconds S] [--processes P] [--keepalive MS] [--probe-ms MS] " +
  "[--iterations N] [--profile DIR] [--quick]";

/** The full run and the quick one. */
const PLANS = {
  full: { peers: GOAL.peers, seconds: 30, warmupMs: 5000 },
  quick: { peers: 500, seconds: 5, warmupMs: 2000 },
} as const;
const DEFAULTS = { downloading: 0.1, processes: 4, probeMs: 20 };
/** The file every group shares (the simulator's 256 MiB), and pieces per report. */
const FILE_MIB = 256;
const PIECES_PER_REPORT = 4;
/** Logins in flight per load process (the tracker hashes one password at a time anyway). */
const LOGIN_CONCURRENCY = 16;
/** Time allowed per login for the whole ramp, beyond a fixed minute. */
const RAMP_MS_PER_PEER = 60;
/** File descriptors the tracker needs beyond one per peer. */
const FD_MARGIN = 64;
const PASSWORD = "scale-password";

/** Bad arguments. */
class UsageError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}

const encoder = new TextEncoder();
const startedAt = performance.now();

function progress(msg: string): void {
  const s = ((performance.now() - startedAt) / 1000).toFixed(1).padStart(6);
  Deno.stderr.writeSync(encoder.encode(`[scale ${s}s] ${msg}\n`));
}

/** What the command line asks for. */
interface Options {
  quick: boolean;
  peers: number;
  downloading: number;
  seconds: number;
  processes: number;
  probeMs: number;
  iterations: number;
  warmupMs: number;
  rates: ScaleRates;
  profileDir: string | null;
}

function parseOptions(args: string[]): Options {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean" },
      peers: { type: "string" },
      downloading: { type: "string" },
      seconds: { type: "string" },
      processes: { type: "string" },
      keepalive: { type: "string" },
      "probe-ms": { type: "string" },
      iterations: { type: "string" },
      profile: { type: "string" },
    },
  });
  const quick = values.quick ?? false;
  const plan = quick ? PLANS.quick : PLANS.full;
  const num = (name: string, v: string | undefined, dflt: number, min: number, max: number) => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) {
      throw new UsageError(`--${name} must be a number from ${min} to ${max}`);
    }
    return n;
  };
  return {
    quick,
    peers: Math.round(num("peers", values.peers, plan.peers, 1, 50_000)),
    downloading: num("downloading", values.downloading, DEFAULTS.downloading, 0, 0.9),
    seconds: num("seconds", values.seconds, plan.seconds, 1, 3600),
    processes: Math.round(num("processes", values.processes, DEFAULTS.processes, 1, 32)),
    probeMs: num("probe-ms", values["probe-ms"], DEFAULTS.probeMs, 1, 10_000),
    iterations: Math.round(num("iterations", values.iterations, PBKDF2_ITERATIONS, 1, 1e7)),
    warmupMs: plan.warmupMs,
    profileDir: values.profile ?? null,
    rates: {
      keepaliveMs: Math.round(
        num("keepalive", values.keepalive, DEFAULT_KEEPALIVE_MS, 100, 60_000),
      ),
      reportMs: REPORT_INTERVAL_MS,
      lookupMs: PARTIAL_REFRESH_MS,
      piecesPerReport: PIECES_PER_REPORT,
    },
  };
}

/** The file of every group: random piece hashes (nothing is ever transferred). */
function fakeFile(): ScalePlan["file"] {
  const size = FILE_MIB * 1024 * 1024;
  const n = Math.ceil(size / PIECE_SIZE);
  const hex = (bytes: number) =>
    Array.from(
      crypto.getRandomValues(new Uint8Array(bytes)),
      (b) => b.toString(16).padStart(2, "0"),
    )
      .join("");
  let pieces = "";
  for (let i = 0; i < n; i++) pieces += hex(20);
  return { name: "scale.bin", size, pieceSize: PIECE_SIZE, pieces, sha1: hex(20) };
}

/** Starts the pair with the users already in the primary's log. */
async function startPair(pair: TrackerPair, o: Options): Promise<void> {
  progress(`starting tracker 1 once to make its log (data in ${pair.dir})`);
  await pair.startTracker(1, "primary");
  await pair.tracker(1).stop();
  const users = [...Array.from({ length: o.peers }, (_, i) => userName(i)), PROBE_USER];
  const last = await seedUsers(`${pair.dataDir(1)}/tracker.db`, {
    users,
    password: PASSWORD,
    iterations: o.iterations,
  });
  progress(`wrote ${users.length} users into its log (to index ${last}); restarting it`);
  await pair.startTracker(1, "primary");
  await pair.startTracker(2, "secondary");
  progress("tracker 2 has caught up");
  const limit = openFileLimit(pair.tracker(1).pid);
  if (limit !== null && limit < o.peers + FD_MARGIN) {
    throw new Error(
      `Tracker 1 may open only ${limit} files, fewer than ${o.peers} peers need: raise ulimit -n`,
    );
  }
}

function sum(stats: PeerStats[], pick: (s: PeerStats) => number): number {
  return stats.reduce((a, s) => a + pick(s), 0);
}

/** Reads "peers online: N" from the tracker's console status. */
async function onlineAt(pair: TrackerPair, n: 1 | 2): Promise<number | null> {
  const lines = await pair.tracker(n).statusLines();
  const m = lines.map((l) => /^peers online: (\d+)$/.exec(l)).find((x) => x);
  return m ? Number(m[1]) : null;
}

async function run(pair: TrackerPair, o: Options): Promise<ScaleResult> {
  await startPair(pair, o);
  const pids = { tracker1: pair.tracker(1).pid, tracker2: pair.tracker(2).pid };
  const before = { t1: rssMiB(pids.tracker1), t2: rssMiB(pids.tracker2) };
  const ca = await pair.ca();
  const file = fakeFile();
  const plans = makePlans({ peers: o.peers, processes: o.processes, downloading: o.downloading }, {
    primary: pair.endpoints[0],
    caPath: pair.caPath,
    password: PASSWORD,
    rates: o.rates,
    file,
    loginConcurrency: LOGIN_CONCURRENCY,
  });
  const downloaders = plans.reduce(
    (a, p) => a + p.groups.reduce((b, g) => b + g.downloaders.length, 0),
    0,
  );
  const groups = plans.reduce((a, p) => a + p.groups.length, 0);
  progress(`logging in ${o.peers} peers from ${o.processes} processes`);
  const rampStart = performance.now();
  const fleet = await Fleet.start(plans, pair.dir);
  let probe: Probe | null = null;
  try {
    let shown = -1;
    const ramp = await fleet.loggedIn({
      timeoutMs: 60_000 + o.peers * RAMP_MS_PER_PEER,
      progress: (n) => {
        if (n === shown) return;
        shown = n;
        const s = (performance.now() - rampStart) / 1000;
        progress(`  ${n} / ${o.peers} logged in (${(n / s).toFixed(0)}/s)`);
      },
    });
    const rampSeconds = (performance.now() - rampStart) / 1000;
    const failedLogins = sum(ramp, (s) => s.failed);
    progress(`ramp done in ${rampSeconds.toFixed(1)} s, ${failedLogins} failed`);
    progress(`setting up ${groups} groups (${downloaders} downloaders)`);
    await fleet.ask("setup");
    await fleet.ask("go");
    progress(`downloads running; warming up for ${o.warmupMs} ms`);
    await new Promise((r) => setTimeout(r, o.warmupMs));
    // Logged in only now: a connection idle through a long ramp is closed by the tracker
    // (shared/conn.ts idle timeout), and the probe's login is one more under load.
    probe = await Probe.start(pair.endpoints[0], { ca, password: PASSWORD, file });
    await fleet.ask("mark");
    const meter = startCpuMeter({ ...pids, ...fleet.pids(), bench: Deno.pid });
    progress(`steady window: ${o.seconds} s with a probe write every ${o.probeMs} ms`);
    const writes = await probe.run({ durationMs: o.seconds * 1000, everyMs: o.probeMs });
    const cpu = meter.stop();
    const stats = await fleet.stats();
    const online = await onlineAt(pair, 1);
    const seconds = Math.max(...stats.map((s) => s.seconds));
    const figures = (pid: number, cpuPercent: number | null, rssBeforeMiB: number) => ({
      cpuPercent,
      rssBeforeMiB,
      rssMiB: rssMiB(pid),
      peakRssMiB: peakRssMiB(pid),
    });
    const primary: ProcessFigures = figures(pids.tracker1, cpu.tracker1 ?? null, before.t1);
    const secondary: ProcessFigures = figures(pids.tracker2, cpu.tracker2 ?? null, before.t2);
    const byCmd: Record<string, number> = {};
    let refused = 0;
    for (const s of stats) {
      for (const [cmd, a] of Object.entries(s.answers)) {
        byCmd[cmd] = (byCmd[cmd] ?? 0) + (a.ok + a.fail) / seconds;
        refused += a.fail;
      }
    }
    byCmd.probe = writes.length / seconds;
    const loadCpu = plans.reduce((a, _, k) => a + (cpu[`load${k}`] ?? 0), 0) + (cpu.bench ?? 0);
    const write = summarize(writes);
    const loggedIn = sum(stats, (s) => s.loggedIn);
    const stale = sum(stats, (s) => s.stale);
    const closed = sum(stats, (s) => s.closed);
    const allLive = loggedIn === o.peers && stale === 0 && closed === 0 &&
      online !== null && online >= o.peers;
    const goal = {
      peers: o.peers >= GOAL.peers && allLive,
      cpu: primary.cpuPercent !== null && primary.cpuPercent <= GOAL.cpuPercent,
      p99: write.count > 0 && write.p99 <= GOAL.writeP99Ms && probe.errors.count === 0,
      met: false,
    };
    goal.met = goal.peers && goal.cpu && goal.p99;
    const reports = stats.flatMap((s) => s.reportLatency.count > 0 ? [s.reportLatency] : []);
    return {
      bench: "tracker_scale",
      mode: o.quick ? "quick" : "full",
      date: new Date().toISOString(),
      env: { deno: Deno.version.deno, cpus: navigator.hardwareConcurrency, loadavg: loadAverage() },
      peers: o.peers,
      downloading: o.downloading,
      downloaders,
      groups,
      processes: o.processes,
      rates: o.rates,
      fileMiB: FILE_MIB,
      iterations: o.iterations,
      rampSeconds,
      loggedIn,
      failedLogins,
      firstError: stats.map((s) => s.firstError).find((e) => e !== null) ?? probe.errors.first,
      online,
      stale,
      closed,
      seconds,
      reqPerSec: Object.values(byCmd).reduce((a, b) => a + b, 0),
      byCmd,
      refused,
      primary,
      secondary,
      loadCpuPercent: loadCpu,
      otherCpuPercent: cpu.other ?? null,
      write,
      writeErrors: probe.errors.count,
      reports: mergeSummaries(reports),
      goal,
    };
  } finally {
    progress("stopping the load");
    await probe?.close().catch(() => {});
    await fleet.close();
  }
}

/**
 * The processes' report latencies together: counts add, the max is the
 * largest, p50 and p99 are the count-weighted mean of theirs (an estimate).
 */
function mergeSummaries(s: ReturnType<typeof summarize>[]): ReturnType<typeof summarize> {
  const count = s.reduce((a, x) => a + x.count, 0);
  if (count === 0) return summarize([]);
  const w = (pick: (x: ReturnType<typeof summarize>) => number) =>
    s.reduce((a, x) => a + pick(x) * x.count, 0) / count;
  return {
    count,
    p50: w((x) => x.p50),
    p99: w((x) => x.p99),
    max: Math.max(...s.map((x) => x.max)),
    mean: w((x) => x.mean),
  };
}

function loadAverage(): number | null {
  try {
    return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
  } catch {
    return null;
  }
}

async function main(): Promise<number> {
  let o: Options;
  try {
    o = parseOptions(Deno.args);
  } catch (err) {
    console.error(`error: ${describeError(err)}\n${USAGE}`);
    return 2;
  }
  if (o.profileDir) await Deno.mkdir(o.profileDir, { recursive: true });
  const pair = await TrackerPair.create({
    heartbeatMs: null,
    graceMs: null,
    env: { SHOAL_LOG: "info" },
    dirPrefix: "shoal-scale-",
    denoFlags: o.profileDir
      ? ["--cpu-prof", `--cpu-prof-dir=${await Deno.realPath(o.profileDir)}`]
      : [],
  });
  const onSignal = () => {
    progress("interrupted: stopping the trackers");
    void pair.close().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    const r = await run(pair, o);
    if (o.profileDir) {
      progress("stopping the trackers so they write their CPU profiles");
      await Promise.all([pair.tracker(1).stop(), pair.tracker(2).stop()]);
      progress(`CPU profiles in ${o.profileDir}`);
    }
    console.log(formatTable(r));
    if (r.seconds < o.seconds * 0.9) {
      // The load stopped early (the first error says why): not a figure to keep.
      console.log(JSON.stringify(r));
      console.error(
        `error: the steady window lasted ${r.seconds.toFixed(1)} s of ${o.seconds} s: ${
          r.firstError ?? "no error recorded"
        }`,
      );
      return 1;
    }
    if (!o.quick) {
      // The report's section (bench/_report_scale.ts) reads it.
      await writeResult("tracker_scale.json", r);
    }
    console.log(JSON.stringify(r));
    return 0;
  } catch (err) {
    progress(`failed: ${describeError(err)}`);
    if (err instanceof Error && err.message.includes("\n")) console.error(err.message);
    return 1;
  } finally {
    await pair.close();
    Deno.removeSignalListener("SIGINT", onSignal);
    progress(`done; trackers stopped and ${pair.dir} removed`);
  }
}

if (import.meta.main) Deno.exit(await main());
