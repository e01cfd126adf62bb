/**
 * Tracker benchmark: starts a real tracker pair as child processes and
 * measures replicated write latency, read latency, the synchronisation delay
 * between the trackers, throughput with 1, 16 and
 * 64 connections, and failover time, with clients speaking the wire protocol.
 *
 *   deno run --allow-all bench/tracker_bench.ts [--quick] [--only <parts>] [--profile <dir>]
 *
 * `--only` takes a comma-separated subset of latency, sync, writes, reads,
 * failover (sync: the synchronisation delay, see _sync_delay.ts).
 * `--profile <dir>` runs the trackers with `--cpu-prof` into <dir> and skips
 * the failover part (a killed tracker writes no profile).
 * Figures go to stdout (two aligned tables, then one JSON line); progress goes
 * to stderr.
 */
import { parseArgs } from "node:util";
import { describeError } from "../shared/errors.ts";
import { newKeyPair } from "../shared/tls/keys.ts";
import { TrackerPair } from "../tests/harness/tracker_pair.ts";
import { measureFailover } from "./_failover.ts";
import { type ArgsFn, sequentialLatency, throughput } from "./_load.ts";
import { type BenchResults, formatReport, toJson } from "./_tracker_report.ts";
import { startCpuMeter, summarize } from "./_stats.ts";
import { measureSyncDelay } from "./_sync_delay.ts";
import { WireClient } from "./_wire_client.ts";

/** Tracker settings used for the whole run. */
const HEARTBEAT_MS = 200;
const GRACE_MS = 1000;

/** Sizes of the full and the quick run. */
const PLANS = {
  full: { warmup: 500, latencyOps: 2000, syncOps: 500, durationMs: 3000, failoverRounds: 3 },
  quick: { warmup: 100, latencyOps: 300, syncOps: 100, durationMs: 1000, failoverRounds: 3 },
} as const;
type Plan = (typeof PLANS)[keyof typeof PLANS];

/** Connections of the throughput runs, each with one request in flight. */
const CONNECTIONS = [1, 16, 64];
const PIPELINE_DEPTH = 1;

const WRITE_CMD = "create_group";
const READ_CMD = "whoami";
const PARTS = ["latency", "sync", "writes", "reads", "failover"] as const;
type Part = (typeof PARTS)[number];

const USAGE =
  "usage: deno run --allow-all bench/tracker_bench.ts [--quick] [--only latency,sync,writes,reads,failover] [--profile <dir>]";

/** A part name given to --only is not one of {@linkcode PARTS}. */
class UsageError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}

const encoder = new TextEncoder();
const startedAt = performance.now();

function progress(msg: string): void {
  const s = ((performance.now() - startedAt) / 1000).toFixed(1).padStart(5);
  Deno.stderr.writeSync(encoder.encode(`[bench ${s}s] ${msg}\n`));
}

/** Unique group ids per phase, so every create_group is a fresh replicated write. */
function groupArgs(phase: string): ArgsFn {
  const run = crypto.randomUUID().slice(0, 6);
  return (lane, seq) => ({ group: `${phase}-${run}-${lane}-${seq}` });
}

const noArgs: ArgsFn = () => ({});

/** Creates a user and logs in; returns the session token. */
async function login(client: WireClient): Promise<string> {
  progress("creating the bench user (PBKDF2, slow by design)");
  const user = `bench-${crypto.randomUUID().slice(0, 8)}`;
  const password = "bench-password";
  await client.call("create_user", { user, password });
  const { spki } = await newKeyPair();
  const data = await client.call("login", { user, password, addr: "127.0.0.1:9", pubkey: spki });
  if (typeof data.token !== "string") throw new Error("login answered without a token");
  return data.token;
}

/** What every measuring part needs. */
interface Setup {
  pair: TrackerPair;
  client: WireClient;
  token: string;
  /** The cluster's CA certificate (PEM). */
  ca: string;
  plan: Plan;
  processes: Record<string, number>;
}

/** Runs the throughput of `cmd` with each number of connections. */
async function throughputSeries(s: Setup, cmd: string, args: (clients: number) => ArgsFn) {
  const out = [];
  for (const clients of CONNECTIONS) {
    const durationMs = s.plan.durationMs;
    progress(`throughput: ${cmd} with ${clients} connections for ${durationMs} ms`);
    const r = await throughput({
      to: s.pair.endpoints[0],
      ca: s.ca,
      token: s.token,
      cmd,
      args: args(clients),
      clients,
      depth: PIPELINE_DEPTH,
      durationMs,
      processes: s.processes,
    });
    progress(`  ${Math.round(r.opsPerSec)} ops/s, ${r.errors} errors`);
    out.push(r);
  }
  return out;
}

/** Write and read latency, one request at a time, with the CPU use meanwhile. */
async function latency({ client, plan, processes }: Setup) {
  const count = plan.latencyOps;
  const meter = startCpuMeter(processes);
  progress(`write latency: ${count} sequential ${WRITE_CMD}`);
  const w = await sequentialLatency(client, { cmd: WRITE_CMD, args: groupArgs("l"), count });
  progress(`read latency: ${count} sequential ${READ_CMD}`);
  const r = await sequentialLatency(client, { cmd: READ_CMD, args: noArgs, count });
  return { writeLatency: summarize(w), readLatency: summarize(r), latencyCpu: meter.stop() };
}

async function bench(pair: TrackerPair, plan: Plan, parts: Set<Part>) {
  progress(`starting tracker 1 (data in ${pair.dir})`);
  await pair.startTracker(1, "primary");
  progress("tracker 1 is primary; starting tracker 2");
  await pair.startTracker(2, "secondary");
  const ca = await pair.ca();
  const client = await WireClient.connect(pair.endpoints[0], { name: "setup", ca });
  try {
    const token = client.token = await login(client);
    progress(`warm-up: ${plan.warmup} writes and reads`);
    await sequentialLatency(client, { cmd: WRITE_CMD, args: groupArgs("w"), count: plan.warmup });
    await sequentialLatency(client, { cmd: READ_CMD, args: noArgs, count: plan.warmup });
    const processes = {
      tracker1: pair.tracker(1).pid,
      tracker2: pair.tracker(2).pid,
      bench: Deno.pid,
    };
    const s: Setup = { pair, client, token, ca, plan, processes };
    const lat = parts.has("latency") ? await latency(s) : null;
    let syncDelay = null;
    if (parts.has("sync")) {
      progress(`synchronisation delay: ${plan.syncOps} writes, each followed by both statuses`);
      const args = groupArgs("s");
      syncDelay = await measureSyncDelay(pair, {
        client,
        primary: 1,
        cmd: WRITE_CMD,
        args: (seq) => args(0, seq),
        count: plan.syncOps,
      });
    }
    const writes = parts.has("writes")
      ? await throughputSeries(s, WRITE_CMD, (clients) => groupArgs(`t${clients}`))
      : [];
    const reads = parts.has("reads") ? await throughputSeries(s, READ_CMD, () => noArgs) : [];
    let failover = null;
    if (parts.has("failover")) {
      const rounds = plan.failoverRounds;
      progress(`failover: ${rounds} rounds of kill -9 of the primary`);
      failover = await measureFailover(pair, { token, rounds, primary: 1, progress });
    }
    return {
      writeLatency: lat?.writeLatency ?? null,
      readLatency: lat?.readLatency ?? null,
      latencyCpu: lat?.latencyCpu ?? null,
      syncDelay,
      writes,
      reads,
      failover,
    };
  } finally {
    await client.close();
  }
}

function loadAverage(): number | null {
  try {
    return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
  } catch {
    return null;
  }
}

function parseParts(text: string | undefined, profiling: boolean): Set<Part> {
  const given = text?.split(",").map((s) => s.trim()).filter((s) => s !== "") ?? PARTS;
  const parts = new Set<Part>();
  for (const p of given) {
    if (!(PARTS as readonly string[]).includes(p)) {
      throw new UsageError(`Unknown part "${p}" for --only: use ${PARTS.join(", ")}`);
    }
    parts.add(p as Part);
  }
  if (profiling) parts.delete("failover");
  return parts;
}

async function main(): Promise<number> {
  let values, parts;
  try {
    values = parseArgs({
      args: Deno.args,
      options: {
        quick: { type: "boolean" },
        only: { type: "string" },
        profile: { type: "string" },
      },
    }).values;
    parts = parseParts(values.only, values.profile !== undefined);
  } catch (err) {
    console.error(`error: ${describeError(err)}\n${USAGE}`);
    return 2;
  }
  const quick = values.quick ?? false;
  const profileDir = values.profile ?? null;
  if (profileDir) await Deno.mkdir(profileDir, { recursive: true });
  const pair = await TrackerPair.create({
    heartbeatMs: HEARTBEAT_MS,
    graceMs: GRACE_MS,
    env: { SHOAL_LOG: "info" },
    dirPrefix: "shoal-bench-",
    denoFlags: profileDir
      ? ["--cpu-prof", `--cpu-prof-dir=${await Deno.realPath(profileDir)}`]
      : [],
  });
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    progress("interrupted: stopping the trackers");
    void pair.close().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    const env = {
      deno: Deno.version.deno,
      cpus: navigator.hardwareConcurrency,
      os: Deno.build.os,
      loadavg: loadAverage(),
    };
    const measured = await bench(pair, quick ? PLANS.quick : PLANS.full, parts);
    const results: BenchResults = {
      mode: quick ? "quick" : "full",
      env,
      writeCmd: WRITE_CMD,
      readCmd: READ_CMD,
      ...measured,
    };
    if (profileDir) {
      progress("stopping the trackers so they write their CPU profiles");
      await Promise.all([pair.tracker(1).stop(), pair.tracker(2).stop()]);
      progress(`CPU profiles in ${profileDir}`);
    }
    console.log(formatReport(results));
    console.log(JSON.stringify(toJson(results)));
    return 0;
  } catch (err) {
    if (interrupted) return 130;
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
