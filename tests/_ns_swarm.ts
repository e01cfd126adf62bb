/**
 * A swarm on the namespace testbed (tests/_netns.ts): both trackers on host
 * "t", each peer on its own host, every process a real `shoal` started with
 * `ip netns exec`, its shell driven one command at a time. Everything is
 * killed and removed afterwards; without the rights to make namespaces
 * {@linkcode NetSwarm.run} prints one "skipped: ..." line and returns.
 */
import assert from "node:assert/strict";
import { NsProcess, Testbed } from "./_netns.ts";
import { delay, waitFor } from "./harness.ts";
import { GROUP } from "./files_harness.ts";

/** Trackers on host "t"; peers on their own hosts. */
export class NetSwarm {
  readonly bed: Testbed;
  readonly dir: string;
  readonly info: string;
  readonly procs: NsProcess[] = [];

  private constructor(bed: Testbed, dir: string) {
    this.bed = bed;
    this.dir = dir;
    this.info = `${dir}/tracker_info.txt`;
  }

  /** Makes the testbed with `hosts` (and "t"), starts the trackers and runs `fn`. */
  static async run(
    tag: string,
    hosts: string[],
    fn: (net: NetSwarm) => Promise<void>,
  ): Promise<void> {
    const bed = await Testbed.create(tag, ["t", ...hosts]);
    if (typeof bed === "string") {
      console.log(bed);
      return;
    }
    const dir = await Deno.makeTempDir({ prefix: `shoal-${tag}-` });
    const net = new NetSwarm(bed, dir);
    try {
      await Deno.writeTextFile(net.info, `${bed.addr("t")}:5000\n${bed.addr("t")}:7000\n`);
      await net.#startTrackers();
      await fn(net);
    } catch (err) {
      const logs = net.procs.map((p) =>
        `--- ${p.name} stdout ---\n${p.stdout.text}\n--- ${p.name} stderr ---\n${
          p.stderr.text.slice(-4000)
        }`
      );
      throw new Error(`${(err as Error).message}\n${logs.join("\n")}`, { cause: err });
    } finally {
      for (const p of net.procs) await p.kill().catch(() => {});
      await bed.destroy();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }

  async #startTrackers(): Promise<void> {
    for (const n of [1, 2]) {
      this.procs.push(
        new NsProcess(`tracker${n}`, this.bed.ns("t"), [
          "tracker",
          this.info,
          String(n),
          "--data-dir",
          `${this.dir}/tracker${n}`,
          "--cluster-key",
          `${this.dir}/cluster.key`,
        ]),
      );
      if (n === 1) await delay(300); // tracker 1 creates the cluster key
    }
    await waitFor(() => this.procs.some((t) => /is now primary/.test(t.stderr.text)), {
      timeoutMs: 15_000,
      what: "a primary tracker",
    });
  }

  /** The state folder of the peer on `host`. */
  stateDir(host: string): string {
    return `${this.dir}/state-${host}`;
  }

  /** Starts a peer on `host` (port 6001) with its state folder; waits for its shell. */
  async peer(host: string): Promise<NsShell> {
    const p = new NsProcess(host, this.bed.ns(host), [
      "peer",
      `${this.bed.addr(host)}:6001`,
      this.info,
      "--state-dir",
      this.stateDir(host),
    ]);
    this.procs.push(p);
    const sh = new NsShell(p);
    sh.greeting = await sh.run("");
    return sh;
  }
}

/** A peer's shell: one command at a time, each answered by the lines before a marker. */
export class NsShell {
  readonly p: NsProcess;
  /** What the shell printed before its first command (e.g. "resumed session as ..."). */
  greeting: string[] = [];
  #marks = 0;

  constructor(p: NsProcess) {
    this.p = p;
  }

  /** Runs a command; returns its lines (notices of finished or resumed downloads left out). */
  async run(line: string, timeoutMs = 20_000): Promise<string[]> {
    const mark = `mark-${++this.#marks}`;
    const from = this.p.stdout.lines().length;
    await this.p.type(line);
    await this.p.type(mark);
    const end = await waitFor(() => {
      const lines = this.p.stdout.lines();
      const i = lines.findIndex((l, k) => k >= from && l.includes(`"${mark}"`));
      if (i < 0 && this.p.exit) throw new Error(`${this.p.name} exited`);
      return i >= 0 ? i + 1 : null;
    }, { timeoutMs, what: `${this.p.name}: ${line}` });
    return this.p.stdout.lines().slice(from, end - 1).filter((l) =>
      !/^(download of .* (complete|failed)|resuming download )/.test(l)
    );
  }

  /** Runs a command that must print one line that is not an error; returns it. */
  async ok(line: string, timeoutMs?: number): Promise<string> {
    const out = await this.run(line, timeoutMs);
    assert.equal(out.length, 1, `${this.p.name}: ${line}: ${JSON.stringify(out)}`);
    assert.ok(!out[0]!.startsWith("error:"), `${this.p.name}: ${line}: ${out[0]}`);
    return out[0]!;
  }

  /** Runs a command that must print exactly one `error: ` line; returns it. */
  async error(line: string, timeoutMs?: number): Promise<string> {
    const out = await this.run(line, timeoutMs);
    assert.equal(out.length, 1, `${this.p.name}: ${line}: ${JSON.stringify(out)}`);
    assert.match(out[0]!, /^error: /, `${this.p.name}: ${line} did not fail`);
    return out[0]!;
  }

  /** The show_downloads line of `name` ("" when it is not listed). */
  async line(name: string): Promise<string> {
    return (await this.run("show_downloads")).find((l) => l.includes(`] ${name}`)) ?? "";
  }

  /** Ends the shell's input and waits for the process to exit. */
  async quit(): Promise<void> {
    await this.p.type("quit");
    await waitFor(() => this.p.exit, { timeoutMs: 15_000, what: `${this.p.name} to exit` });
    await this.p.kill();
  }
}

/** Makes `user` on `sh`, logs in, and creates the group (no owner) or joins `owner`'s. */
export async function member(sh: NsShell, user: string, owner: NsShell | null): Promise<void> {
  await sh.ok(`create_user ${user} pw-${user}`);
  await sh.ok(`login ${user} pw-${user}`);
  if (!owner) await sh.ok(`create_group ${GROUP}`);
  else {
    await sh.ok(`join_group ${GROUP}`);
    await owner.ok(`accept_request ${GROUP} ${user}`);
  }
}

/** The percentage in a show_downloads line (NaN without one). */
export function percent(line: string): number {
  return Number(/ (\d+(?:\.\d+)?)%/.exec(line)?.[1] ?? NaN);
}
