/**
 * Network partitions of the tracker pair, made with Linux network namespaces
 * that the test creates and removes itself. Nothing here touches the host's
 * own network: every address (10.x) lives only inside the test's namespaces.
 *
 * Topology (the testbed of tests/_netns.ts: a star around a bridge; `<s>` is
 * a random suffix):
 *
 *   shp<s>-t1 (tracker 1, 10.a.b.1:5000) ── veth ──┐
 *   shp<s>-t2 (tracker 2, 10.a.b.2:7000) ── veth ──┤ bridge br0 in shp<s>-hub
 *   shp<s>-c  (clients,   10.a.b.3)      ── veth ──┘
 *
 * Cutting tracker 1 sets its bridge-side veth end down (in the hub), so packets
 * to and from shp<s>-t1 are silently dropped: no reset, no refusal, like a
 * pulled cable. Tracker 1 is then cut off from tracker 2 and from the client
 * namespace, while processes inside shp<s>-t1 itself (the "side" writer of the
 * second test) still reach it.
 *
 * The first test has clients on one side only: the secondary takes over, the
 * clients fail over without an error, and the old primary steps down and
 * catches up when the link heals.
 *
 * The second test is a split brain: a writer in tracker 1's namespace keeps
 * writing to it while the other writer fails over to tracker 2. Once its link
 * is declared dead the cut-off primary acknowledges its side's writes alone,
 * while tracker 2 promotes itself with a higher epoch and acknowledges the
 * other side's: two primaries, 200 writes each, with deliberate clashes (the
 * same user id and the same group id created on both sides, a join to a group
 * deleted on the other side, the login and writes of the clashing user). When
 * the link heals, tracker 1 (the lower epoch) steps down, keeps its own
 * writes, adopts tracker 2's state and sends them back; tracker 2 applies each
 * again after its own, or records it as a conflict when it no longer holds.
 * The test checks that every acknowledged write of either side is in the
 * final state or listed as a conflict (exactly the deliberate clashes), that
 * both trackers' consoles list the same conflicts, and that both data folders
 * hold identical states.
 *
 * When the test cannot create namespaces (not root, no CAP_SYS_ADMIN, no `ip`
 * command), it prints a "skipped: ..." line and passes.
 */
import assert from "node:assert/strict";
import { TrackerClient } from "../peer/tracker_client/tracker_client.ts";
import { caPathFor, readCa } from "../shared/tls/ca_file.ts";
import { readTrackerInfo } from "../shared/tracker_info.ts";
import type { StateSnapshot } from "../tracker/state/state.ts";
import { Store } from "../tracker/store/store.ts";
import { TEST_PUBKEY } from "./harness/identity.ts";
import { inNetns, Testbed } from "./harness/netns.ts";
import { ShoalProcess } from "./harness/process.ts";
import { PeerShell, type ShellOptions } from "./harness/shell.ts";
import { TrackerProcess, type TrackerStatus } from "./harness/tracker.ts";
import { GRACE_MS, HEARTBEAT_MS } from "./harness/tracker_pair.ts";
import { delay, waitFor } from "./harness/wait.ts";

const TRACKER_PORTS = [5000, 7000] as const;
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
/** Users each side of the split brain creates; each makes 5 writes (200 per side). */
const USERS_PER_SIDE = 40;
/** Groups made before the cut, which users of both sides ask to join. */
const PRE_GROUPS = 20;

/** A peer shell with the two checks these tests make of it. */
class Shell {
  readonly sh: PeerShell;

  constructor(sh: PeerShell) {
    this.sh = sh;
  }

  /** Runs one command; returns its output lines. */
  run(line: string): Promise<string[]> {
    return this.sh.run(line);
  }

  /** Runs a command that must print exactly `expected` (so never an `error:` line). */
  async expect(line: string, expected: string): Promise<void> {
    assert.deepEqual(await this.run(line), [expected], `${this.sh.label}: ${line}`);
  }

  /** The shell's `list_groups` as `{group: owner}`. */
  async groups(): Promise<Record<string, string>> {
    const lines = await this.run("list_groups");
    const out: Record<string, string> = {};
    if (lines.length === 1 && lines[0] === "no groups") return out;
    assert.match(lines[0] ?? "", /^GROUP\s+OWNER/, `${this.sh.label}: ${lines.join("\n")}`);
    for (const line of lines.slice(1)) {
      const [group, owner] = line.split(/\s+/);
      out[group!] = owner!;
    }
    return out;
  }
}

/** The namespaces, data folder and processes of one run, removed afterwards. */
interface Run {
  topo: Testbed;
  dir: string;
  info: string;
  startTracker(n: 1 | 2): TrackerProcess;
  spawn(name: string, ns: string, args: string[], script?: string): ShoalProcess;
  /** Starts a peer shell on `host` (port 6001). */
  shell(host: string, options: ShellOptions): Promise<PeerShell>;
  /** Every process's log, for failure messages. */
  logs(): string;
}

/**
 * Makes the namespaces and a temporary folder, runs `fn`, and removes
 * everything in `finally`, whatever happens; prints the skip reason instead
 * when namespaces cannot be made.
 */
async function withRun(fn: (run: Run) => Promise<void>): Promise<void> {
  const topo = await Testbed.create("shp", ["t1", "t2", "c"]);
  if (typeof topo === "string") {
    console.log(topo);
    return;
  }
  const dir = await Deno.makeTempDir({ prefix: "shoal-partition-" });
  const procs: ShoalProcess[] = [];
  const logs = () => procs.map((p) => `--- ${p.name} ---\n${p.stderr.text}`).join("\n");
  const info = `${dir}/tracker_info.txt`;
  const track = <P extends ShoalProcess>(p: P) => (procs.push(p), p);
  const spawn = (name: string, ns: string, args: string[], script?: string) =>
    track(new ShoalProcess(args, { name, prefix: inNetns(ns), script }));
  const startTracker = (n: 1 | 2) =>
    track(
      new TrackerProcess(n, [
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
      ], { prefix: inNetns(topo.ns(`t${n}`)) }),
    );
  const shell = async (host: string, options: ShellOptions) => {
    const addr = `${topo.addr(host)}:6001`;
    const sh = await PeerShell.start(info, { addr, prefix: inNetns(topo.ns(host)), ...options });
    track(sh.proc);
    return sh;
  };
  try {
    const tracker = (n: 1 | 2) => `${topo.addr(`t${n}`)}:${TRACKER_PORTS[n - 1]}`;
    await Deno.writeTextFile(info, `${tracker(1)}\n${tracker(2)}\n`);
    await fn({ topo, dir, info, startTracker, spawn, shell, logs });
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${logs()}`, { cause: err });
  } finally {
    for (const p of procs) await p.kill();
    await topo.destroy();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Starts tracker 1 (it becomes primary and makes the cluster key), then
 * tracker 2 as its secondary; returns both and tracker 1's epoch.
 */
async function startPair(
  run: Run,
): Promise<{ t1: TrackerProcess; t2: TrackerProcess; epoch1: number }> {
  const t1 = run.startTracker(1);
  const epoch1 = Number((await t1.waitForLog(/Tracker 1 is now primary \(epoch (\d+)\)/))[1]);
  const t2 = run.startTracker(2);
  await t2.waitForLog(/Caught up with the primary at index \d+/);
  return { t1, t2, epoch1 };
}

/** Cuts tracker 1 off and waits for tracker 2 to take over; returns the new epoch. */
async function cutAndTakeOver(run: Run, t2: TrackerProcess, epoch1: number): Promise<number> {
  const t2Mark = t2.mark();
  const cutAt = Date.now();
  await run.topo.cut("t1");
  await t2.waitForLog(/Link to tracker 1 lost/, { since: t2Mark, timeoutMs: 10_000 });
  const lostMs = Date.now() - cutAt;
  const epoch2 = Number(
    (await t2.waitForLog(/Tracker 2 is now primary \(epoch (\d+)\)/, {
      since: t2Mark,
      timeoutMs: 10_000,
    }))[1],
  );
  const takeoverMs = Date.now() - cutAt;
  console.log(
    `partition: tracker 2 lost the link ${lostMs} ms after the cut, took over ${takeoverMs} ms after it`,
  );
  assert.ok(epoch2 > epoch1, `the new primary's epoch ${epoch2} is above ${epoch1}`);
  assert.ok(
    takeoverMs <= TAKEOVER_BOUND_MS,
    `tracker 2 took over after ${takeoverMs} ms (bound ${TAKEOVER_BOUND_MS} ms)`,
  );
  return epoch2;
}

/** Checks for several heartbeats that tracker 2 is the one primary, both at its epoch. */
async function onePrimary(t1: TrackerProcess, t2: TrackerProcess): Promise<void> {
  for (let i = 0; i < 4; i++) {
    const [s1, s2] = [await t1.status(), await t2.status()];
    assert.deepEqual(
      [s1.role, s2.role],
      ["secondary", "primary"],
      `exactly one primary after healing: ${JSON.stringify([s1, s2])}`,
    );
    assert.equal(s1.epoch, s2.epoch, "both trackers are at the new primary's epoch");
    if (i < 3) await delay(HEARTBEAT_MS);
  }
}

Deno.test("partition: a cut-off primary is replaced by the secondary within seconds, clients fail over without error, and after healing it steps down with no acknowledged write lost", async () => {
  await withRun(async (run) => {
    const { t1, t2, epoch1 } = await startPair(run);
    const sh = await run.shell("c", { label: "alice", stateDir: `${run.dir}/alice`, workers: 1 });
    const alice = new Shell(sh);
    await alice.run("whoami"); // waits until the shell reads commands

    // Writes flow through the primary and are acknowledged by both.
    const acked: Record<string, string> = {};
    const createGroup = async (group: string) => {
      await alice.expect(`create_group ${group}`, `created group ${group} (owner alice)`);
      acked[group] = "alice";
    };
    await alice.expect("create_user alice pw-a", "created user alice");
    await alice.expect("login alice pw-a", "logged in as alice");
    for (const g of ["before-1", "before-2", "before-3"]) await createGroup(g);

    // Cut tracker 1 (the primary) off from tracker 2 and from the client namespace.
    await cutAndTakeOver(run, t2, epoch1);

    // The client fails over to the new primary: a pause (its request to the cut
    // tracker times out), never an error.
    let slowest = 0;
    for (const g of ["during-1", "during-2", "during-3"]) {
      const t0 = Date.now();
      await createGroup(g);
      slowest = Math.max(slowest, Date.now() - t0);
    }
    console.log(`partition: slowest write of the failed-over client took ${slowest} ms`);
    // No client reaches tracker 1: it never acknowledges anything alone.
    assert.equal((await t2.status()).role, "primary", "tracker 2 took over");

    // Heal: the old primary sees the higher epoch, steps down and catches up.
    const healMark = t1.mark();
    const healAt = Date.now();
    await run.topo.heal("t1");
    await t1.waitForLog(/Tracker 1 steps down to secondary/, {
      since: healMark,
      timeoutMs: HEAL_BOUND_MS,
    });
    await t1.waitForLog(/Caught up with the primary at index \d+/, {
      since: healMark,
      timeoutMs: HEAL_BOUND_MS,
    });
    console.log(
      `partition: tracker 1 stepped down and caught up ${Date.now() - healAt} ms after healing`,
    );
    await createGroup("after-heal");
    await onePrimary(t1, t2);
    await waitFor(async () => (await t1.status()).index === (await t2.status()).index, {
      timeoutMs: 5_000,
      what: "both trackers at the same last op",
    });
    assert.deepEqual(await alice.groups(), acked, "the primary holds every acknowledged write");

    // Tracker 1 itself holds that state, not just the primary: stop tracker 2
    // (its port then refuses connections, so tracker 1 takes over at once).
    const lastMark = t1.mark();
    await t2.kill();
    await t1.waitForLog(/Tracker 1 is now primary/, { since: lastMark, timeoutMs: 10_000 });
    assert.deepEqual(await alice.groups(), acked, "tracker 1 holds every acknowledged write");
  });
});

/** One write of the split-brain test, and what its writer was told. */
interface Write {
  side: "loser" | "winner";
  cmd: string;
  args: Record<string, unknown>;
  /** The user the write acts as (its token's), if any. */
  as?: string;
  /** A later acknowledged write undid it (checked through that one). */
  undone?: true;
  result?: { ok: boolean; data?: Record<string, unknown>; error?: string };
}

/**
 * A writer process in a namespace: a failover-aware tracker client (the
 * peer's) that reads one JSON request a line and prints one JSON answer a
 * line, in order. Requests are pipelined to it.
 */
class Writer {
  readonly proc: ShoalProcess;
  readonly tokens = new Map<string, string>();
  #seen = 0;
  #sent = 0;

  constructor(run: Run, name: string, ns: string) {
    this.proc = run.spawn(name, ns, ["--writer", run.info], new URL(import.meta.url).pathname);
  }

  /**
   * Sends the writes pipelined, up to each login at a time (the writes after
   * a login need its token); resolves when all are answered, each result
   * filled in.
   */
  async send(writes: Write[]): Promise<void> {
    for (let from = 0; from < writes.length;) {
      let upTo = from;
      while (upTo < writes.length && writes[upTo]!.cmd !== "login") upTo++;
      upTo = Math.min(upTo + 1, writes.length);
      const batch = writes.slice(from, upTo);
      for (const w of batch) {
        const token = w.as === undefined ? undefined : this.tokens.get(w.as);
        await this.proc.type(JSON.stringify({ n: ++this.#sent, cmd: w.cmd, args: w.args, token }));
      }
      const answers = await this.#answers(batch.length);
      batch.forEach((w, k) => {
        w.result = answers[k];
        if (w.cmd === "login" && w.result?.ok) {
          this.tokens.set(String(w.args.user), String(w.result.data?.token));
        }
      });
      from = upTo;
    }
  }

  async #answers(count: number): Promise<Write["result"][]> {
    const out = await waitFor(() => {
      const lines = this.proc.stdout.lines();
      return lines.length >= this.#seen + count
        ? lines.slice(this.#seen, this.#seen + count)
        : null;
    }, { timeoutMs: 60_000, what: `${count} answers from ${this.proc.name}` });
    const first = this.#seen + 1;
    this.#seen += count;
    return out.map((line, i) => {
      const { n, ...answer } = JSON.parse(line);
      assert.equal(n, first + i, `${this.proc.name} answers in order`);
      return answer;
    });
  }
}

/** The writes of one side: `USERS_PER_SIDE` users, 5 writes each, into shared groups. */
function sideWrites(side: Write["side"], prefix: string, host: number): Write[] {
  const out: Write[] = [];
  for (let i = 0; i < USERS_PER_SIDE; i++) {
    const u = `${prefix}${i}`;
    out.push(
      { side, cmd: "create_user", args: { user: u, password: `pw-${u}` } },
      {
        side,
        cmd: "login",
        args: { user: u, password: `pw-${u}`, addr: `10.0.${host}.${i}:7000` },
      },
      { side, cmd: "join_group", args: { group: `pre-${i % PRE_GROUPS}` }, as: u },
      { side, cmd: "create_group", args: { group: `g-${u}` }, as: u },
      { side, cmd: "join_group", args: { group: `pre-${(i + 7) % PRE_GROUPS}` }, as: u },
    );
  }
  return out;
}

/** The conflicts the loser's deliberate clashes must produce, as the console lists them. */
const EXPECTED_CONFLICTS = [
  "conflict: create_user twin from tracker 1 refused: user twin already exists",
  "conflict: login twin from tracker 1 refused: user twin is another account on this side",
  "conflict: create_group twin-g (twin) from tracker 1 refused: user twin is another account on this side",
  "conflict: create_group contested (bob) from tracker 1 refused: group contested already exists",
  "conflict: join_group doomed (bob) from tracker 1 refused: no group doomed",
].sort();

/** Reads the state a stopped tracker's data folder holds. */
function stateOnDisk(dir: string, n: 1 | 2): StateSnapshot {
  const store = new Store(`${dir}/t${n}/tracker.db`);
  try {
    return store.load().toSnapshot();
  } finally {
    store.close();
  }
}

/** Why an acknowledged write is not in `snap`, or null when it is. */
function missing(snap: StateSnapshot, w: Write): string | null {
  const a = w.args as Record<string, string>;
  const groups = new Map(snap.groups.map((g) => [g.id, g]));
  switch (w.cmd) {
    case "create_user":
      return snap.users.some((u) => u.id === a.user) ? null : `user ${a.user}`;
    case "login": {
      const token = String(w.result?.data?.token);
      return snap.sessions.some((x) => x.token === token && x.user === a.user)
        ? null
        : `session of ${a.user}`;
    }
    case "create_group":
      return groups.get(a.group!)?.owner === w.as ? null : `group ${a.group} of ${w.as}`;
    case "join_group": {
      const g = groups.get(a.group!);
      return g && (g.pending.includes(w.as!) || g.members.includes(w.as!))
        ? null
        : `join of ${w.as} to ${a.group}`;
    }
    case "leave_group":
      return groups.get(a.group!)?.members.includes(w.as!) ? `${w.as} still in ${a.group}` : null;
  }
  return `unchecked command ${w.cmd}`;
}

Deno.test("partition: after a split brain with writers on both sides, every acknowledged write is on both trackers or listed as a conflict", async () => {
  await withRun(async (run) => {
    const { t1, t2, epoch1 } = await startPair(run);
    // The loser's writer sits beside tracker 1 (it still reaches it when cut);
    // the winner's is in the client namespace (it fails over to tracker 2).
    const loser = new Writer(run, "loser writer", run.topo.ns("t1"));
    const winner = new Writer(run, "winner writer", run.topo.ns("c"));

    // Before the cut, through tracker 1 and acknowledged by both.
    const before: Write[] = [
      { side: "winner", cmd: "create_user", args: { user: "alice", password: "pw-alice" } },
      {
        side: "winner",
        cmd: "login",
        args: { user: "alice", password: "pw-alice", addr: "10.0.9.1:7000" },
      },
      ...Array.from({ length: PRE_GROUPS }, (_, i): Write => ({
        side: "winner",
        cmd: "create_group",
        args: { group: `pre-${i}` },
        as: "alice",
      })),
      { side: "winner", cmd: "create_group", args: { group: "doomed" }, as: "alice", undone: true },
    ];
    await winner.send(before);
    const bobFirst: Write[] = [
      { side: "loser", cmd: "create_user", args: { user: "bob", password: "pw-bob" } },
      {
        side: "loser",
        cmd: "login",
        args: { user: "bob", password: "pw-bob", addr: "10.0.9.2:7000" },
      },
    ];
    await loser.send(bobFirst);

    const t1Mark = t1.mark();
    await cutAndTakeOver(run, t2, epoch1);
    // The cut-off primary notices the dead link and carries on alone.
    await t1.waitForLog(/Secondary gone: primary carries on alone/, {
      since: t1Mark,
      timeoutMs: 10_000,
    });

    // Each side writes; the loser's writes clash with the winner's on purpose.
    const winnerWrites: Write[] = [
      { side: "winner", cmd: "create_user", args: { user: "twin", password: "pw-winner" } },
      { side: "winner", cmd: "create_group", args: { group: "contested" }, as: "alice" },
      { side: "winner", cmd: "leave_group", args: { group: "doomed" }, as: "alice" },
      ...sideWrites("winner", "w", 2),
    ];
    const loserWrites: Write[] = [
      { side: "loser", cmd: "create_user", args: { user: "twin", password: "pw-loser" } },
      {
        side: "loser",
        cmd: "login",
        args: { user: "twin", password: "pw-loser", addr: "10.0.9.3:7000" },
      },
      { side: "loser", cmd: "create_group", args: { group: "twin-g" }, as: "twin" },
      { side: "loser", cmd: "create_group", args: { group: "contested" }, as: "bob" },
      { side: "loser", cmd: "join_group", args: { group: "doomed" }, as: "bob" },
      ...sideWrites("loser", "l", 1),
    ];
    const t0 = Date.now();
    await Promise.all([winner.send(winnerWrites), loser.send(loserWrites)]);
    const all = [...before, ...bobFirst, ...winnerWrites, ...loserWrites];
    const refused = all.filter((w) => !w.result?.ok);
    assert.deepEqual(refused, [], "every write is acknowledged on its side");
    console.log(
      `partition: ${winnerWrites.length} writes acknowledged by tracker 2 and ` +
        `${loserWrites.length} by the cut-off tracker 1 alone in ${Date.now() - t0} ms`,
    );
    const sides = [await t1.status(), await t2.status()];
    assert.deepEqual(sides.map((s) => s.role), ["primary", "primary"], "a split brain");

    // Heal: tracker 1 steps down, keeps its writes, adopts tracker 2's state and sends them back.
    const [m1, m2] = [t1.mark(), t2.mark()];
    const healAt = Date.now();
    await run.topo.heal("t1");
    await t1.waitForLog(/Tracker 1 steps down to secondary/, {
      since: m1,
      timeoutMs: HEAL_BOUND_MS,
    });
    const kept = Number(
      (await t1.waitForLog(/Tracker 1 keeps (\d+) writes it made alone/, {
        since: m1,
        timeoutMs: HEAL_BOUND_MS,
      }))[1],
    );
    const merged = await t2.waitForLog(
      /Merged the writes tracker 1 made alone: (\d+) applied, (\d+) conflicts, (\d+) already here/,
      { since: m2, timeoutMs: HEAL_BOUND_MS },
    );
    await t1.waitForLog(/The primary merged the writes tracker 1 made alone/, {
      since: m1,
      timeoutMs: HEAL_BOUND_MS,
    });
    let s1: TrackerStatus, s2: TrackerStatus;
    await waitFor(async () => {
      [s1, s2] = [await t1.status(), await t2.status()];
      return s1.index === s2.index && s1.conflicts.length === s2.conflicts.length;
    }, { timeoutMs: HEAL_BOUND_MS, what: "both trackers at the same last op" });
    const identicalMs = Date.now() - healAt;
    const [applied, conflicts, skipped] = [1, 2, 3].map((i) => Number(merged[i])) as [
      number,
      number,
      number,
    ];
    console.log(
      `partition: healed; tracker 1 kept ${kept} writes, tracker 2 applied ${applied}, ` +
        `refused ${conflicts} as conflicts, had ${skipped} already; both at op ${s1!.index} ` +
        `${identicalMs} ms after healing`,
    );
    assert.equal(kept, loserWrites.length, "tracker 1 kept every write it acknowledged alone");
    assert.equal(applied + conflicts, kept);
    assert.equal(conflicts, EXPECTED_CONFLICTS.length);
    // Both consoles list exactly the deliberate clashes.
    assert.deepEqual([...s2!.conflicts].sort(), EXPECTED_CONFLICTS, "tracker 2's conflicts");
    assert.deepEqual(s1!.conflicts, s2!.conflicts, "tracker 1 lists the same conflicts");
    assert.match(
      t2.stderr.text.slice(m2),
      /Merge conflict: "create_user twin" from tracker 1 refused/,
    );
    for (const secret of ["pw-loser", "pw-winner"]) {
      assert.ok(!t1.stderr.text.includes(secret) && !t2.stderr.text.includes(secret));
    }
    await onePrimary(t1, t2);

    // The twin is the winner's account: its password works, the loser's does not.
    const probes: Write[] = [
      {
        side: "winner",
        cmd: "login",
        args: { user: "twin", password: "pw-winner", addr: "10.0.9.4:7000" },
      },
      {
        side: "winner",
        cmd: "login",
        args: { user: "twin", password: "pw-loser", addr: "10.0.9.5:7000" },
      },
    ];
    await winner.send(probes);
    assert.equal(probes[0]!.result?.ok, true);
    assert.deepEqual(probes[1]!.result, { ok: false, error: "wrong password for twin" });

    // Every acknowledged write is in both trackers' data folders, or listed as a conflict.
    await waitFor(async () => (await t1.status()).index === (await t2.status()).index, {
      what: "both trackers at the same last op after the probes",
    });
    // The secondary first: the primary alone appends nothing more (a lone
    // secondary would promote itself and add an epoch entry).
    await t1.kill();
    await t2.kill();
    const [d1, d2] = [stateOnDisk(run.dir, 1), stateOnDisk(run.dir, 2)];
    assert.deepEqual(d1, d2, "tracker 1 and tracker 2 hold different states on disk");
    const listed = new Set(
      d1.conflicts!.map((c) =>
        `conflict: ${c.summary} from tracker ${c.from} refused: ${c.reason}`
      ),
    );
    assert.deepEqual([...listed].sort(), EXPECTED_CONFLICTS);
    const clashing = new Set(["twin", "twin-g", "contested", "doomed"]);
    const lost: string[] = [];
    let present = 0;
    for (const w of all) {
      if (w.side === "loser" && Object.values(w.args).some((v) => clashing.has(String(v)))) {
        continue; // one of the conflicts checked above
      }
      if (w.undone) continue;
      const why = missing(d1, w);
      if (why) lost.push(`${w.side}: ${w.cmd} ${JSON.stringify(w.args)}: ${why}`);
      else present++;
    }
    assert.deepEqual(lost, [], "acknowledged writes missing after the merge");
    console.log(
      `partition: ${present} acknowledged writes present on both trackers, ` +
        `${listed.size} listed as conflicts, 0 missing, states identical (index ${d1.index})`,
    );
  });
});

/**
 * The writer process of the split-brain test: `deno run -A
 * tests/partition_faults_test.ts --writer <tracker_info>`. Reads JSON requests
 * (`{n, cmd, args, token}`) a line from stdin and prints each answer as a JSON
 * line, in order, through the peer's failover-aware tracker client.
 */
async function writerMain(infoPath: string): Promise<void> {
  const client = new TrackerClient({
    trackers: await readTrackerInfo(infoPath),
    ca: await readCa(caPathFor(infoPath)),
    failoverDeadlineMs: 30_000,
  });
  const out = new TextEncoder();
  let buf = "";
  for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const req = JSON.parse(buf.slice(0, i));
      buf = buf.slice(i + 1);
      client.token = req.token ?? undefined;
      // Every login sends an identity key, as a peer does.
      const args = req.cmd === "login" ? { pubkey: TEST_PUBKEY, ...req.args } : req.args;
      let answer;
      try {
        answer = await client.request(req.cmd, args);
      } catch (err) {
        answer = { ok: false, error: String(err) };
      }
      await Deno.stdout.write(out.encode(JSON.stringify({ n: req.n, ...answer }) + "\n"));
    }
  }
  await client.close();
}

if (import.meta.main && Deno.args[0] === "--writer") await writerMain(Deno.args[1]!);
