/**
 * Network partitions of the tracker pair, made with Linux network namespaces
 * that the test creates and removes itself. Nothing here touches the host's
 * own network: every address (10.x) lives only inside the test's namespaces.
 *
 * Topology (a star around a bridge; `<s>` is a random suffix):
 *
 *   shp<s>-t1 (tracker 1, 10.a.b.1:5000) ── veth ──┐
 *   shp<s>-t2 (tracker 2, 10.a.b.2:7000) ── veth ──┤ bridge br0 in shp<s>-hub
 *   shp<s>-c  (clients,   10.a.b.10)     ── veth ──┘
 *
 * Cutting tracker 1 sets its bridge-side veth end down (in the hub), so packets
 * to and from shp<s>-t1 are silently dropped: no reset, no refusal, like a
 * pulled cable. Tracker 1 is then cut off from tracker 2 and from the client
 * namespace, while processes inside shp<s>-t1 itself (the "side" client of the
 * second test) still reach it.
 *
 * What a cut-off primary does with the writes of clients on its side, as the
 * README says ("What two trackers cannot do") and as the second test pins down:
 * once its link is declared dead it carries on alone, so it acknowledges those
 * writes by itself while the secondary, across the cut, promotes itself with a
 * higher epoch and acknowledges the writes of the other clients: a split brain
 * with two primaries. When the link heals, the primary with the lower epoch
 * (the old one) steps down and adopts the new primary's snapshot: every write
 * it acknowledged alone is gone, on both trackers, even though its client was
 * told it succeeded. Writes acknowledged by the side with the higher epoch (the
 * new primary, which the clients outside the cut fail over to) are never lost.
 *
 * When the test cannot create namespaces (not root, no CAP_SYS_ADMIN, no `ip`
 * command), it prints a "skipped: ..." line and passes.
 */
import assert from "node:assert/strict";
import { delay, GRACE_MS, HEARTBEAT_MS, MAIN, OutputCollector, waitFor } from "./harness.ts";

/** The repository root, where `deno.json` lives (subprocesses run there). */
const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname);
const TRACKER_PORTS = [5000, 7000] as const;
/** Time a tracker process may take to start and settle its role. */
const START_TIMEOUT_MS = 15_000;
/**
 * Upper bound from the cut to the secondary's promotion: three missed
 * heartbeats close the link (about 0.6-0.8 s), then the first dial of the cut
 * tracker times out after the link's 1 s connect timeout, which is past the
 * 500 ms grace, so it promotes (about 1.8 s in all). The bound leaves slack for
 * a loaded machine.
 */
const TAKEOVER_BOUND_MS = 3_500;
/** Upper bound from healing the link to the old primary having caught up. */
const HEAL_BOUND_MS = 5_000;

const encoder = new TextEncoder();

/** An `ip` command could not run or failed. */
class IpError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "IpError";
  }
}

/** Runs `ip ...args`; throws {@linkcode IpError} with its stderr when it fails. */
async function ip(...args: string[]): Promise<void> {
  let out;
  try {
    out = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
  } catch (err) {
    throw new IpError(`Cannot run ip (apt-get install -y iproute2): ${err}`, { cause: err });
  }
  if (!out.success) {
    const why = new TextDecoder().decode(out.stderr).trim();
    throw new IpError(`ip ${args.join(" ")} failed: ${why}`);
  }
}

/** The namespaces, bridge and veth pairs of one test, and the cut and heal of a link. */
class Topology {
  readonly hub: string;
  readonly t1: string;
  readonly t2: string;
  readonly clients: string;
  /** The first three octets of the test's private /24, e.g. "10.123.45". */
  readonly net: string;
  readonly #made: string[] = [];

  private constructor(suffix: string, net: string) {
    this.hub = `shp${suffix}-hub`;
    this.t1 = `shp${suffix}-t1`;
    this.t2 = `shp${suffix}-t2`;
    this.clients = `shp${suffix}-c`;
    this.net = net;
  }

  /** Address of host `host` of the test's /24. */
  addr(host: number): string {
    return `${this.net}.${host}`;
  }

  /** The tracker_info line of tracker `n`. */
  tracker(n: 1 | 2): string {
    return `${this.addr(n)}:${TRACKER_PORTS[n - 1]}`;
  }

  /**
   * Creates the namespaces and links them; returns a "skipped: ..." reason
   * instead when this machine does not allow it (everything made is removed).
   */
  static async create(): Promise<Topology | string> {
    const bytes = crypto.getRandomValues(new Uint8Array(3));
    const suffix = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    const net = `10.${100 + bytes[0]! % 150}.${bytes[1]}`;
    const topo = new Topology(suffix, net);
    try {
      for (const ns of [topo.hub, topo.t1, topo.t2, topo.clients]) {
        await ip("netns", "add", ns);
        topo.#made.push(ns);
        await ip("-n", ns, "link", "set", "lo", "up");
      }
    } catch (err) {
      await topo.destroy();
      return `skipped: cannot create network namespaces (${(err as Error).message})`;
    }
    try {
      await ip("-n", topo.hub, "link", "add", "br0", "type", "bridge", "stp_state", "0");
      await ip("-n", topo.hub, "link", "set", "br0", "up");
      const legs: [string, string, number][] = [
        ["t1", topo.t1, 1],
        ["t2", topo.t2, 2],
        ["c", topo.clients, 10],
      ];
      for (const [leg, ns, host] of legs) {
        // Both ends are created inside namespaces: no device ever appears on the host.
        await ip(
          "-n",
          topo.hub,
          "link",
          "add",
          leg,
          "type",
          "veth",
          "peer",
          "name",
          "eth0",
          "netns",
          ns,
        );
        await ip("-n", topo.hub, "link", "set", leg, "master", "br0");
        await ip("-n", topo.hub, "link", "set", leg, "up");
        await ip("-n", ns, "addr", "add", `${topo.addr(host)}/24`, "dev", "eth0");
        await ip("-n", ns, "link", "set", "eth0", "up");
      }
    } catch (err) {
      await topo.destroy();
      return `skipped: cannot create a bridge and veth pairs (${(err as Error).message})`;
    }
    return topo;
  }

  /** Drops every packet to and from tracker `n`'s namespace (its bridge port goes down). */
  async cut(n: 1 | 2): Promise<void> {
    await ip("-n", this.hub, "link", "set", `t${n}`, "down");
  }

  /** Undoes {@linkcode cut}. */
  async heal(n: 1 | 2): Promise<void> {
    await ip("-n", this.hub, "link", "set", `t${n}`, "up");
  }

  /** Removes every namespace made (their veths and the bridge go with them). */
  async destroy(): Promise<void> {
    for (const ns of this.#made.splice(0).reverse()) {
      await ip("netns", "del", ns).catch((err) => console.error(`cleanup: ${err.message}`));
    }
  }
}

/** A `shoal` process started with `ip netns exec <ns>`, its output collected. */
class NsProcess {
  readonly name: string;
  readonly child: Deno.ChildProcess;
  readonly stdout: OutputCollector;
  readonly stderr: OutputCollector;
  exit: Deno.CommandStatus | null = null;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;

  constructor(name: string, ns: string, args: string[]) {
    this.name = name;
    this.child = new Deno.Command("ip", {
      // `ip netns exec` execs the command in place: the child's pid is deno's.
      args: ["netns", "exec", ns, Deno.execPath(), "run", "--allow-all", MAIN, ...args],
      cwd: ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    }).spawn();
    this.stdout = new OutputCollector(this.child.stdout);
    this.stderr = new OutputCollector(this.child.stderr);
    this.#stdin = this.child.stdin.getWriter();
    this.child.status.then((s) => this.exit = s);
  }

  /** Length of the log so far, to wait only for lines logged after it. */
  mark(): number {
    return this.stderr.text.length;
  }

  /** Waits until the log (from offset `since`) matches `re`. */
  async waitForLog(re: RegExp, since = 0, timeoutMs = START_TIMEOUT_MS): Promise<RegExpExecArray> {
    try {
      return await waitFor(() => {
        if (this.exit) throw new Error(`${this.name} exited (${this.exit.code})`);
        return re.exec(this.stderr.text.slice(since));
      }, { timeoutMs, what: `${re} in the log of ${this.name}` });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- ${this.name} ---\n${this.stderr.text}`);
    }
  }

  /** Writes one line to stdin. */
  async type(line: string): Promise<void> {
    await this.#stdin.write(encoder.encode(line + "\n"));
  }

  /** Kills the process (by its own pid) and waits for its output to end. */
  async kill(): Promise<void> {
    if (!this.exit) {
      try {
        this.child.kill("SIGKILL");
      } catch { /* already gone */ }
    }
    await this.child.status;
    await this.#stdin.close().catch(() => {});
    await Promise.all([this.stdout.done, this.stderr.done]);
  }
}

/** A tracker's console `status`: role, epoch, last op. */
interface Status {
  role: string;
  epoch: number;
  index: number;
  other: string;
}

/** Runs `status` on a tracker's console and parses it. */
async function status(t: NsProcess): Promise<Status> {
  const before = t.stdout.lines().length;
  await t.type("status");
  const lines = await waitFor(() => {
    const out = t.stdout.lines().slice(before);
    const at = out.findIndex((l) => /^tracker \d: /.test(l));
    return at >= 0 && out.length >= at + 3 ? out.slice(at, at + 3) : null;
  }, { what: `the status of ${t.name}` });
  const m = /^tracker \d: (\w+), epoch (\d+), last op (\d+)/.exec(lines[0]!);
  if (!m) throw new Error(`Unexpected status of ${t.name}:\n${lines.join("\n")}`);
  return { role: m[1]!, epoch: Number(m[2]), index: Number(m[3]), other: lines[1]! };
}

/**
 * A `shoal peer` shell driven one command at a time: after each command it
 * types an unknown marker command, and the lines before the marker's error
 * are the command's output (the shell answers lines in order).
 */
class Shell {
  readonly proc: NsProcess;
  #seen = 0;
  #marks = 0;

  constructor(proc: NsProcess) {
    this.proc = proc;
  }

  /** Runs one command; returns its output lines. */
  async run(line: string): Promise<string[]> {
    await this.proc.type(line);
    const mark = `__sync_${++this.#marks}`;
    await this.proc.type(mark);
    return await waitFor(() => {
      const all = this.proc.stdout.lines();
      const at = all.findIndex((l, i) => i >= this.#seen && l.includes(mark));
      if (at < 0) return null;
      const out = all.slice(this.#seen, at);
      this.#seen = at + 1;
      return out;
    }, { timeoutMs: 30_000, what: `the answer of ${this.proc.name} to ${line}` });
  }

  /** Runs a command that must print exactly `expected` (so never an `error:` line). */
  async expect(line: string, expected: string): Promise<void> {
    assert.deepEqual(await this.run(line), [expected], `${this.proc.name}: ${line}`);
  }

  /** The shell's `list_groups` as `{group: owner}`. */
  async groups(): Promise<Record<string, string>> {
    const lines = await this.run("list_groups");
    const out: Record<string, string> = {};
    if (lines.length === 1 && lines[0] === "no groups") return out;
    assert.match(lines[0] ?? "", /^GROUP\s+OWNER/, `${this.proc.name}: ${lines.join("\n")}`);
    for (const line of lines.slice(1)) {
      const [group, owner] = line.split(/\s+/);
      out[group!] = owner!;
    }
    return out;
  }
}

/** Options of one partition run. */
interface ScenarioOptions {
  /** Also run a client inside tracker 1's namespace, which still reaches it when cut. */
  sideClient: boolean;
}

/**
 * Starts the pair in its namespaces, writes, cuts tracker 1 (the primary)
 * off, writes on both sides, heals, and checks the outcome. Resources are
 * removed in `finally`, whatever happens.
 */
async function runScenario(options: ScenarioOptions): Promise<void> {
  const topo = await Topology.create();
  if (typeof topo === "string") {
    console.log(topo);
    return;
  }
  const dir = await Deno.makeTempDir({ prefix: "shoal-partition-" });
  const procs: NsProcess[] = [];
  const logs = () => procs.map((p) => `--- ${p.name} ---\n${p.stderr.text}`).join("\n");
  try {
    const info = `${dir}/tracker_info.txt`;
    await Deno.writeTextFile(info, `${topo.tracker(1)}\n${topo.tracker(2)}\n`);
    const startTracker = (n: 1 | 2) => {
      const p = new NsProcess(`tracker ${n}`, n === 1 ? topo.t1 : topo.t2, [
        "tracker",
        info,
        String(n),
        "--data-dir",
        `${dir}/t${n}`,
        "--cluster-key",
        `${dir}/cluster.key`,
        "--heartbeat",
        String(HEARTBEAT_MS),
        "--grace",
        String(GRACE_MS),
      ]);
      procs.push(p);
      return p;
    };
    const startShell = async (name: string, ns: string, addr: string) => {
      const p = new NsProcess(name, ns, [
        "peer",
        addr,
        info,
        "--state-dir",
        `${dir}/${name}`,
        "--workers",
        "1",
      ]);
      procs.push(p);
      const shell = new Shell(p);
      await shell.run("whoami"); // waits until the shell reads commands
      return shell;
    };

    // Tracker 1 starts first and becomes primary (the cluster key is made by it);
    // tracker 2 follows as secondary.
    const t1 = startTracker(1);
    const epoch1 = Number((await t1.waitForLog(/Tracker 1 is now primary \(epoch (\d+)\)/))[1]);
    const t2 = startTracker(2);
    await t2.waitForLog(/Caught up with the primary at index \d+/);

    const alice = await startShell("alice", topo.clients, `${topo.addr(10)}:6001`);
    const bob = options.sideClient
      ? await startShell("bob", topo.t1, `${topo.addr(1)}:6002`)
      : null;

    // Writes flow through the primary and are acknowledged by both.
    const acked: Record<string, string> = {};
    const createGroup = async (shell: Shell, user: string, group: string) => {
      await shell.expect(`create_group ${group}`, `created group ${group} (owner ${user})`);
    };
    await alice.expect("create_user alice pw-a", "created user alice");
    await alice.expect("login alice pw-a", "logged in as alice");
    for (const g of ["before-1", "before-2", "before-3"]) {
      await createGroup(alice, "alice", g);
      acked[g] = "alice";
    }
    if (bob) {
      await bob.expect("create_user bob pw-b", "created user bob");
      await bob.expect("login bob pw-b", "logged in as bob");
      await createGroup(bob, "bob", "bob-before");
      acked["bob-before"] = "bob";
    }

    // Cut tracker 1 (the primary) off from tracker 2 and from the client namespace.
    const t2Mark = t2.mark();
    const t1Mark = t1.mark();
    const cutAt = Date.now();
    await topo.cut(1);
    await t2.waitForLog(/Link to tracker 1 lost/, t2Mark, 10_000);
    const lostMs = Date.now() - cutAt;
    const epoch2 = Number(
      (await t2.waitForLog(/Tracker 2 is now primary \(epoch (\d+)\)/, t2Mark, 10_000))[1],
    );
    const takeoverMs = Date.now() - cutAt;
    console.log(
      `partition: tracker 2 lost the link ${lostMs} ms after the cut, took over ${takeoverMs} ms after it`,
    );
    assert.ok(epoch2 > epoch1, `the new primary's epoch ${epoch2} is above ${epoch1}`);
    assert.ok(
      takeoverMs <= TAKEOVER_BOUND_MS,
      `tracker 2 took over after ${takeoverMs} ms (bound ${TAKEOVER_BOUND_MS} ms)\n${logs()}`,
    );

    // The client fails over to the new primary: a pause (its request to the cut
    // tracker times out), never an error.
    let slowest = 0;
    for (const g of ["during-1", "during-2", "during-3", "contested"]) {
      const t0 = Date.now();
      await createGroup(alice, "alice", g);
      slowest = Math.max(slowest, Date.now() - t0);
      acked[g] = "alice";
    }
    console.log(`partition: slowest write of the failed-over client took ${slowest} ms`);

    const aloneGroups = ["alone-1", "alone-2"];
    if (bob) {
      // The cut-off primary notices the dead link (three missed heartbeats) and
      // carries on alone: the side client's writes are acknowledged by it alone.
      await t1.waitForLog(/Secondary gone: primary carries on alone/, t1Mark, 10_000);
      for (const g of aloneGroups) await createGroup(bob, "bob", g);
      await createGroup(bob, "bob", "contested");
      // The split brain, as documented: both trackers say they are primary, and
      // each side sees only its own writes.
      assert.equal((await status(t1)).role, "primary", "the cut-off tracker 1 is still primary");
      assert.equal((await status(t2)).role, "primary", "tracker 2 took over");
      const sideView = await bob.groups();
      assert.equal(sideView["alone-1"], "bob");
      assert.equal(sideView["contested"], "bob");
      assert.equal(sideView["during-1"], undefined, "the cut-off side cannot see the other side");
    } else {
      // No client reaches tracker 1: it never acknowledges anything alone.
      assert.equal((await status(t2)).role, "primary", "tracker 2 took over");
    }

    // Heal: the old primary sees the higher epoch, steps down and catches up.
    const healMark = t1.mark();
    const healAt = Date.now();
    await topo.heal(1);
    await t1.waitForLog(/Tracker 1 steps down to secondary/, healMark, HEAL_BOUND_MS);
    await t1.waitForLog(/Caught up with the primary at index \d+/, healMark, HEAL_BOUND_MS);
    const healMs = Date.now() - healAt;
    console.log(`partition: tracker 1 stepped down and caught up ${healMs} ms after healing`);
    if (bob) {
      // Its log diverged (entries of the old epoch past the fork), so it takes a snapshot.
      assert.match(t1.stderr.text.slice(healMark), /Adopting the primary's snapshot/);
    }

    await createGroup(alice, "alice", "after-heal");
    acked["after-heal"] = "alice";

    // Exactly one primary, and it stays so for several heartbeats.
    for (let i = 0; i < 4; i++) {
      const [s1, s2] = [await status(t1), await status(t2)];
      assert.deepEqual(
        [s1.role, s2.role],
        ["secondary", "primary"],
        `exactly one primary after healing: ${JSON.stringify([s1, s2])}\n${logs()}`,
      );
      assert.equal(s1.epoch, s2.epoch, "both trackers are at the new primary's epoch");
      if (i < 3) await delay(HEARTBEAT_MS);
    }
    await waitFor(async () => (await status(t1)).index === (await status(t2)).index, {
      timeoutMs: 5_000,
      what: "both trackers at the same last op",
    });

    // Every acknowledged write of the reachable side is there; the writes the
    // cut-off primary acknowledged alone were replaced by the new primary's state.
    const expected = { ...acked };
    assert.deepEqual(await alice.groups(), expected, "the primary holds every acknowledged write");
    if (bob) assert.deepEqual(await bob.groups(), expected, "the side client sees the same state");

    // Tracker 1 itself holds that state, not just the primary: stop tracker 2
    // (its port then refuses connections, so tracker 1 takes over at once).
    const lastMark = t1.mark();
    await t2.kill();
    await t1.waitForLog(/Tracker 1 is now primary/, lastMark, 10_000);
    assert.deepEqual(await alice.groups(), expected, "tracker 1 holds every acknowledged write");
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${logs()}`, { cause: err });
  } finally {
    for (const p of procs) await p.kill();
    await topo.destroy();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test("partition: a cut-off primary is replaced by the secondary within seconds, clients fail over without error, and after healing it steps down with no acknowledged write lost", async () => {
  await runScenario({ sideClient: false });
});

Deno.test("partition: writes a cut-off primary acknowledges alone to clients on its side are replaced by the new primary's state after healing", async () => {
  await runScenario({ sideClient: true });
});
