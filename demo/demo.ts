/**
 * The demo (`make demo`, `deno task dev`): starts the two trackers and three
 * peers on loopback in a temporary folder, creates users and a group, shares a
 * generated 64 MiB file from two peers, downloads it on the third with
 * progress shown, kills the primary tracker halfway through to show the swarm
 * carry on, checks the SHA-1, prints time and throughput, and cleans up. The
 * peers' web UIs are printed at the start; with `--stay <seconds>` (or
 * SHOAL_DEMO_STAY) the swarm stays up that long at the end to look at them.
 * The processes are driven through tests/harness, as the tests and benchmarks do.
 */
import { parseArgs } from "node:util";
import { sha1OfFile, writeRandomFile } from "../tests/harness/files.ts";
import type { PeerShell } from "../tests/harness/shell.ts";
import { Swarm } from "../tests/harness/swarm.ts";
import { delay } from "../tests/harness/wait.ts";
import { WebClient } from "../tests/harness/web_client.ts";

const SIZE_MIB = Number(Deno.env.get("SHOAL_DEMO_MIB") ?? 64);
/** Share of the download after which the primary tracker is killed. */
const KILL_AT_PERCENT = 40;
/** Pause between two progress lines. */
const POLL_MS = 50;

/** The downloaded file differs from the original. */
class DemoError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DemoError";
  }
}

function say(line: string): void {
  console.log(`\x1b[1m==> ${line}\x1b[0m`);
}

/** Runs a command on a peer shell and prints it with the lines it answers. */
async function run(p: PeerShell, cmd: string): Promise<string[]> {
  console.log(`   ${p.label}> ${cmd.replace(/^(login|create_user) (\S+) \S+/, "$1 $2 ****")}`);
  const out = await p.run(cmd, 60_000);
  for (const l of out) console.log(`   ${p.label}  ${l}`);
  return out;
}

/** Downloads movie.bin on `carol` with its progress shown; kills tracker 1 on the way. */
async function download(s: Swarm, carol: PeerShell, dest: string): Promise<number> {
  const from = carol.proc.stdout.lines().length;
  const start = performance.now();
  await run(carol, `download_file g1 movie.bin ${dest}`);
  let killed = false;
  let last = "";
  for (;;) {
    const done = carol.proc.stdout.lines().slice(from).find((l) =>
      /download of .* (complete|failed)/.test(l)
    );
    if (done) {
      console.log(`   carol  ${done}`);
      break;
    }
    const line = (await carol.run("show_downloads")).find((l) => /^\[[DCF]\]/.test(l)) ?? "";
    if (line !== last) console.log(`   carol  ${line}`);
    last = line;
    const pct = Number(/(\d+\.\d)%/.exec(line)?.[1] ?? 0);
    if (!killed && (pct >= KILL_AT_PERCENT || line.startsWith("[C]"))) {
      killed = true;
      await s.pair.kill(1);
      console.log("   !! tracker 1 (primary) killed with SIGKILL");
    }
    await delay(POLL_MS);
  }
  const secs = (performance.now() - start) / 1000;
  if (!killed) await s.pair.kill(1);
  return secs;
}

/** Seconds the swarm stays up after the demo: `--stay <s>`, else SHOAL_DEMO_STAY, else 0. */
function staySeconds(): number {
  const { values } = parseArgs({ args: Deno.args, options: { stay: { type: "string" } } });
  const text = values.stay ?? Deno.env.get("SHOAL_DEMO_STAY") ?? "0";
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0 || n > 86_400) {
    throw new DemoError(`--stay must be a number of seconds from 0 to 86400, not "${text}"`);
  }
  return n;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const stay = staySeconds();
  const pair = { heartbeatMs: null, graceMs: null, dirPrefix: "shoal-demo-" };
  const s = await Swarm.start({ pair, dirPrefix: "shoal-demo-" });
  try {
    say(`tracker pair on ${s.pair.endpoints.map((e) => `${e.hostname}:${e.port}`).join(", ")}`);
    console.log("   tracker 1 is primary, tracker 2 is secondary and caught up");
    const [alice, bob, carol] = [
      await s.start("alice"),
      await s.start("bob"),
      await s.start("carol"),
    ];
    say("each peer serves its web UI and JSON API (open a URL in a browser on this machine):");
    for (const p of [alice, bob, carol]) {
      console.log(`   ${p.label}  ${(await WebClient.of(p)).url}`);
    }
    say("three peers: alice creates group g1, bob and carol join, alice accepts them");
    for (const p of [alice, bob, carol]) {
      await run(p, `create_user ${p.label} pw-${p.label}`);
      await run(p, `login ${p.label} pw-${p.label}`);
    }
    await run(alice, "create_group g1");
    for (const p of [bob, carol]) {
      await run(p, "join_group g1");
      await run(alice, `accept_request g1 ${p.label}`);
    }

    say(`alice and bob share the same generated ${SIZE_MIB} MiB file`);
    const file = `${s.dir}/movie.bin`;
    const want = await writeRandomFile(file, SIZE_MIB * 1024 * 1024);
    await run(alice, `upload_file ${file} g1`);
    await run(bob, `upload_file g1 ${file}`);
    await run(carol, "list_files g1");

    say("carol downloads it from both; the primary tracker is killed halfway through");
    const dest = await s.mkdir("downloads");
    const secs = await download(s, carol, dest);
    await s.pair.tracker(2).waitPrimary({ timeoutMs: 10_000 }).catch(() => 0);
    console.log("   tracker 2 took over as primary");
    const got = await sha1OfFile(`${dest}/movie.bin`);
    await run(carol, "list_files g1");
    const rate = (SIZE_MIB * 1048576) / 1e6 / secs;
    say(
      `SHA-1 ${got === want ? "matches" : "DIFFERS"} (${got}); ${SIZE_MIB} MiB in ${
        secs.toFixed(2)
      } s, ${rate.toFixed(0)} MB/s`,
    );
    say(`demo finished in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    if (got !== want) throw new DemoError("The downloaded file differs from the original");
    if (stay > 0) {
      say(`the swarm stays up for ${stay} s: look at the web UIs above (Ctrl-C ends it)`);
      await staying(stay);
    }
  } finally {
    await s.close();
  }
}

/** Resolves after `secs`, or at Ctrl-C. */
async function staying(secs: number): Promise<void> {
  const stop = Promise.withResolvers<void>();
  const onInt = () => stop.resolve();
  Deno.addSignalListener("SIGINT", onInt);
  const timer = setTimeout(onInt, secs * 1000);
  await stop.promise;
  clearTimeout(timer);
  Deno.removeSignalListener("SIGINT", onInt);
}

if (import.meta.main) {
  try {
    await main();
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    Deno.exit(1);
  }
}
