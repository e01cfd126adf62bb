/**
 * The demo (`make demo`, `deno task dev`): starts the two trackers and three
 * peers on loopback in a temporary folder, creates users and a group, shares a
 * generated 64 MiB file from two peers, downloads it on the third with
 * progress shown, kills the primary tracker halfway through to show the swarm
 * carry on, checks the SHA-1, prints time and throughput, and cleans up.
 */
import { createHash } from "node:crypto";
import { freePort, Proc } from "./procs.ts";

const SIZE_MIB = Number(Deno.env.get("SHOAL_DEMO_MIB") ?? 64);

function say(line: string): void {
  console.log(`\x1b[1m==> ${line}\x1b[0m`);
}

/** Sends a command to a peer shell and prints it with the lines it answers. */
async function run(p: Proc, who: string, cmd: string, until: RegExp): Promise<string[]> {
  const from = p.lines.length;
  console.log(`   ${who}> ${cmd.replace(/^(login|create_user) (\S+) \S+/, "$1 $2 ****")}`);
  await p.send(cmd);
  await p.waitFor(until, 60_000, from);
  const out = p.lines.slice(from).filter((l) => !/^\d{4}-\d\d-\d\d /.test(l));
  for (const l of out) console.log(`   ${who}  ${l}`);
  return out;
}

async function sha1File(path: string): Promise<string> {
  const h = createHash("sha1");
  using f = await Deno.open(path);
  const buf = new Uint8Array(1024 * 1024);
  for (let n; (n = await f.read(buf)) !== null;) h.update(buf.subarray(0, n));
  return h.digest("hex");
}

async function main(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "shoal-demo-" });
  const procs: Proc[] = [];
  const t0 = performance.now();
  try {
    const info = `${dir}/tracker_info.txt`;
    await Deno.writeTextFile(info, `127.0.0.1:${freePort()}\n127.0.0.1:${freePort()}\n`);
    say(
      `starting the tracker pair (${(await Deno.readTextFile(info)).trim().replace("\n", ", ")})`,
    );
    const tracker = (n: number) =>
      new Proc([
        "tracker",
        info,
        String(n),
        "--data-dir",
        `${dir}/t${n}`,
        "--cluster-key",
        `${dir}/key`,
      ]);
    const t1 = tracker(1);
    procs.push(t1);
    await t1.waitFor(/now primary/);
    const t2 = tracker(2);
    procs.push(t2);
    await t2.waitFor(/Caught up/);
    console.log("   tracker 1 is primary, tracker 2 is secondary and caught up");

    const peer = (name: string) => {
      const p = new Proc([
        "peer",
        `127.0.0.1:${freePort()}`,
        info,
        "--state-dir",
        `${dir}/${name}`,
      ]);
      procs.push(p);
      return p;
    };
    const [alice, bob, carol] = [peer("alice"), peer("bob"), peer("carol")];
    say("three peers: alice creates group g1, bob and carol join, alice accepts them");
    for (const [p, who] of [[alice, "alice"], [bob, "bob"], [carol, "carol"]] as const) {
      await run(p, who, `create_user ${who} pw-${who}`, /created user|error/);
      await run(p, who, `login ${who} pw-${who}`, /logged in|error/);
    }
    await run(alice, "alice", "create_group g1", /created group|error/);
    for (const [p, who] of [[bob, "bob"], [carol, "carol"]] as const) {
      await run(p, who, "join_group g1", /requested|error/);
      await run(alice, "alice", `accept_request g1 ${who}`, /accepted|error/);
    }

    say(`alice and bob share the same generated ${SIZE_MIB} MiB file`);
    const file = `${dir}/movie.bin`;
    {
      using f = await Deno.open(file, { write: true, create: true });
      const block = new Uint8Array(1024 * 1024);
      for (let i = 0; i < SIZE_MIB; i++) {
        crypto.getRandomValues(block.subarray(0, 65536));
        block.copyWithin(65536, 0, 65536);
        for (let k = 2; k < 16; k++) block.copyWithin(k * 65536, 0, 65536);
        new DataView(block.buffer).setUint32(0, i);
        for (let w = 0; w < block.length;) w += await f.write(block.subarray(w));
      }
    }
    const want = await sha1File(file);
    await run(alice, "alice", `upload_file ${file} g1`, /shared|error/);
    await run(bob, "bob", `upload_file g1 ${file}`, /shared|error/);
    await run(carol, "carol", "list_files g1", /movie|error/);

    say("carol downloads it from both; the primary tracker is killed halfway through");
    await Deno.mkdir(`${dir}/downloads`);
    const from = carol.lines.length;
    const start = performance.now();
    await carol.send(`download_file g1 movie.bin ${dir}/downloads`);
    let killed = false;
    let last = "";
    for (;;) {
      const done = carol.lines.slice(from).find((l) => /download of .* (complete|failed)/.test(l));
      if (done) {
        console.log(`   carol  ${done}`);
        break;
      }
      const at = carol.lines.length;
      await carol.send("show_downloads");
      const line = await carol.waitFor(/^\[[DCF]\]/, 10_000, at);
      if (line !== last) console.log(`   carol  ${line}`);
      last = line;
      const pct = Number(/(\d+\.\d)%/.exec(line)?.[1] ?? 0);
      if (!killed && (pct >= 40 || line.startsWith("[C]"))) {
        killed = true;
        t1.child.kill("SIGKILL");
        console.log("   !! tracker 1 (primary) killed with SIGKILL");
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const secs = (performance.now() - start) / 1000;
    if (!killed) t1.child.kill("SIGKILL");
    await t2.waitFor(/now primary/, 10_000).catch(() => "");
    console.log("   tracker 2 took over as primary");
    const got = await sha1File(`${dir}/downloads/movie.bin`);
    await run(carol, "carol", "list_files g1", /movie|error/);
    say(
      `SHA-1 ${got === want ? "matches" : "DIFFERS"} (${got}); ${SIZE_MIB} MiB in ${
        secs.toFixed(2)
      } s, ` +
        `${((SIZE_MIB * 1048576) / 1e6 / secs).toFixed(0)} MB/s`,
    );
    say(`demo finished in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    if (got !== want) throw new Error("the downloaded file differs from the original");
  } finally {
    for (const p of procs) await p.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  try {
    await main();
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    Deno.exit(1);
  }
}
