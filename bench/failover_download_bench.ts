/**
 * `deno run --allow-all bench/failover_download_bench.ts [--quick] [--scale <f>] [--max-runs <n>]`:
 * kill -9 of the primary tracker while a download runs (the `failover` case of
 * bench/_plans.ts). The downloader's progress (`show_downloads`) is sampled
 * every 100 ms; right after the kill the downloader's shell is given a tracker
 * command (`list_groups`) and timed until it succeeds. The killed tracker is
 * restarted between runs and the next run kills the other one. The last line
 * is JSON.
 */
import { parseArgs } from "node:util";
import type { PeerShell } from "../tests/harness/shell.ts";
import { delay } from "../tests/harness/wait.ts";
import { progress, randomFile } from "./_download_bench.ts";
import { PLAN_OPTIONS, planFromArgs } from "./_plans.ts";
import type { FailoverRun } from "./_results.ts";
import { BenchSwarm } from "./_swarm.ts";

/** Interval between two progress samples. */
const SAMPLE_MS = 100;
/** Longest a shell may take to answer `show_downloads` or the command after the kill. */
const ANSWER_TIMEOUT_MS = 30_000;

/** The percentage of a `show_downloads` line (`[C]` is 100). */
function percent(line: string): number {
  if (line.startsWith("[C]")) return 100;
  const m = /\s(\d+(?:\.\d+)?)%/.exec(line);
  if (!m || line.startsWith("[F]")) throw new Error(`Download failed or unreadable: ${line}`);
  return Number(m[1]);
}

/** Downloads `name` on `d`, killing tracker `primary` `killAfterMs` after the start. */
async function run(
  swarm: BenchSwarm,
  d: PeerShell,
  options: { name: string; primary: 1 | 2; killAfterMs: number },
): Promise<FailoverRun> {
  const from = d.proc.stdout.lines().length;
  const t0 = performance.now();
  const since = () => (performance.now() - t0) / 1000;
  await swarm.startDownload(d, options.name);
  let done = false;
  const ended = swarm.downloadEnded(d, from).then(() => since()).finally(() => done = true);
  const kill = (async () => {
    await delay(options.killAfterMs);
    const killAt = since();
    await swarm.swarm.pair.kill(options.primary);
    const groups = await d.run("list_groups", ANSWER_TIMEOUT_MS);
    if (!groups[0]?.startsWith("GROUP")) throw new Error(`list_groups: ${groups.join(" | ")}`);
    return { killAt, nextCommandMs: (since() - killAt) * 1000 };
  })();
  const samples: FailoverRun["samples"] = [{ t: 0, pct: 0 }];
  for (let k = 1; !done; k++) {
    const line = (await d.run("show_downloads", ANSWER_TIMEOUT_MS)).find((l) =>
      /^\[[DCF]\] /.test(l)
    );
    samples.push({ t: since(), pct: percent(line ?? "") });
    await delay(t0 + k * SAMPLE_MS - performance.now());
  }
  const seconds = await ended;
  samples.push({ t: seconds, pct: 100 });
  return { ...(await kill), seconds, samples };
}

const { values } = parseArgs({ args: Deno.args, options: PLAN_OPTIONS });
const { failover: plan } = planFromArgs(values);
const swarm = await BenchSwarm.start();
try {
  const name = `file${plan.mib}.bin`;
  progress(`writing ${plan.mib} MiB of random data`);
  await randomFile(`${swarm.dir}/${name}`, plan.mib);
  await swarm.share(`${swarm.dir}/${name}`, 1);
  const runs: FailoverRun[] = [];
  let primary: 1 | 2 = 1;
  for (let r = 0; r < plan.runs; r++) {
    progress(`${plan.mib} MiB with tracker ${primary} killed, run ${r + 1}/${plan.runs}`);
    const d = await swarm.downloader();
    const got = await run(swarm, d, { name, primary, killAfterMs: plan.killAfterMs });
    runs.push(got);
    await swarm.dropDownloader(d);
    progress(`restarting tracker ${primary}`);
    await swarm.swarm.pair.startTracker(primary, "secondary");
    primary = primary === 1 ? 2 : 1;
  }
  progress("");
  for (const r of runs) {
    console.log(
      `${plan.mib} MiB: killed at ${r.killAt.toFixed(2)} s, next command after ${
        r.nextCommandMs.toFixed(0)
      } ms, done in ${r.seconds.toFixed(2)} s (${r.samples.length} samples)`,
    );
  }
  console.log(JSON.stringify({ failover: { mib: plan.mib, runs } }));
} finally {
  await swarm.close();
}
