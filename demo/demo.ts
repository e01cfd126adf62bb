/**
 * The demo (`make demo`, `deno task dev`): starts the tracker pair on loopback
 * in a temporary folder, runs a scripted account and group session through
 * real peer shells, kills the primary tracker halfway to show the failover,
 * and cleans up.
 */
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const enc = new TextEncoder();
const dec = new TextDecoder();

function say(line: string): void {
  console.log(`\x1b[1m==> ${line}\x1b[0m`);
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

interface Tracker {
  proc: Deno.ChildProcess;
  log: string[];
}

function startTracker(dir: string, n: number): Tracker {
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, "tracker", `${dir}/tracker_info.txt`, String(n)].concat([
      "--data-dir",
      `${dir}/tracker${n}`,
      "--cluster-key",
      `${dir}/cluster.key`,
      "--heartbeat",
      "200",
    ]),
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const t: Tracker = { proc, log: [] };
  (async () => {
    let buf = "";
    for await (const chunk of proc.stderr.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      const lines = buf.split("\n");
      buf = lines.pop()!;
      for (const l of lines) {
        t.log.push(l);
        console.log(`   [tracker ${n}] ${l.replace(/^\S+ \S+ \S+ /, "")}`);
      }
    }
  })();
  return t;
}

async function waitFor(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function peer(dir: string, port: number, name: string, script: string[]): Promise<void> {
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, "peer", `127.0.0.1:${port}`, `${dir}/tracker_info.txt`]
      .concat(["--state-dir", `${dir}/${name}`]),
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const w = proc.stdin.getWriter();
  await w.write(enc.encode(script.join("\n") + "\n"));
  await w.close();
  const out = await proc.output();
  const lines = dec.decode(out.stdout).trimEnd().split("\n");
  for (const cmd of script) {
    console.log(`   ${name}> ${cmd.replace(/^(login|create_user) (\S+) \S+/, "$1 $2 ****")}`);
  }
  for (const l of lines) console.log(`   ${name}  ${l}`);
}

async function main(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "shoal-demo-" });
  const trackers: Tracker[] = [];
  const t0 = performance.now();
  try {
    const [p1, p2] = [freePort(), freePort()];
    await Deno.writeTextFile(`${dir}/tracker_info.txt`, `127.0.0.1:${p1}\n127.0.0.1:${p2}\n`);
    say(`starting the tracker pair on 127.0.0.1:${p1} and 127.0.0.1:${p2} (in ${dir})`);
    trackers.push(startTracker(dir, 1));
    await waitFor("tracker 1", () => trackers[0]!.log.some((l) => l.includes("now primary")));
    trackers.push(startTracker(dir, 2));
    await waitFor("tracker 2", () => trackers[1]!.log.some((l) => l.includes("Caught up")));

    say("alice and bob create accounts; alice creates group g1; bob asks to join");
    await peer(dir, freePort(), "alice", [
      "create_user alice secret-a",
      "login alice secret-a",
      "create_group g1",
    ]);
    await peer(dir, freePort(), "bob", [
      "create_user bob secret-b",
      "login bob secret-b",
      "join_group g1",
      "accept_request g1 bob",
    ]);

    say("killing the primary tracker (SIGKILL): the clients carry on with tracker 2");
    trackers[0]!.proc.kill("SIGKILL");
    await trackers[0]!.proc.status;
    await peer(dir, freePort(), "alice", [
      "list_requests g1",
      "accept_request g1 bob",
      "list_groups",
    ]);

    say("tracker 1 comes back as secondary and catches up");
    trackers[0] = startTracker(dir, 1);
    await waitFor(
      "tracker 1 catch-up",
      () => trackers[0]!.log.some((l) => l.includes("Caught up")),
    );

    say("alice leaves g1: bob, the earliest-joined member, becomes the owner");
    await peer(dir, freePort(), "alice", ["leave_group g1", "list_groups", "logout"]);
    await peer(dir, freePort(), "bob", ["list_groups", "list_files g1"]);
    say(`demo finished in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } finally {
    for (const t of trackers) {
      try {
        t.proc.kill("SIGTERM");
      } catch { /* already gone */ }
      await t.proc.status;
    }
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
