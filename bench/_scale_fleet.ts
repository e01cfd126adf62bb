/**
 * The scale benchmark's load processes, seen from the parent: each one a
 * `deno run bench/_scale_child.ts <plan>` holding its share of the peers,
 * driven by one word a line and answering with JSON lines.
 */
import { ShoalProcess } from "../tests/harness/process.ts";
import type { PeerStats } from "./_scale_peers.ts";
import type { ScalePlan } from "./_scale_plan.ts";

const CHILD = decodeURIComponent(new URL("./_scale_child.ts", import.meta.url).pathname);
/** How long a command other than the logins may take. */
const ANSWER_TIMEOUT_MS = 60_000;
/** How often the login progress is looked at. */
const POLL_MS = 1000;

/** A child's JSON line. */
type ChildMessage = { t: string; loggedIn?: number; stats?: PeerStats; error?: string };

/** The load processes of one run. */
export class Fleet {
  readonly children: ShoalProcess[];

  private constructor(children: ShoalProcess[]) {
    this.children = children;
  }

  /** Writes each plan to `dir` and starts a process for it (they begin logging in at once). */
  static async start(plans: ScalePlan[], dir: string): Promise<Fleet> {
    const children = [];
    for (const [k, plan] of plans.entries()) {
      const path = `${dir}/load-${k}.json`;
      await Deno.writeTextFile(path, JSON.stringify(plan));
      children.push(
        new ShoalProcess([path], { name: `load ${k}`, script: CHILD, env: { SHOAL_LOG: "warn" } }),
      );
    }
    return new Fleet(children);
  }

  /** The processes' ids, by name (load0, load1, ...). */
  pids(): Record<string, number> {
    return Object.fromEntries(this.children.map((c, k) => [`load${k}`, c.pid]));
  }

  /**
   * Waits until every process has logged its peers in (or given up on
   * some), calling `progress` with the total logged in about once a second;
   * returns each process's stats at the end of its logins.
   */
  async loggedIn(
    options: { timeoutMs: number; progress: (n: number) => void },
  ): Promise<PeerStats[]> {
    const deadline = performance.now() + options.timeoutMs;
    const done = new Map<number, PeerStats>();
    while (done.size < this.children.length) {
      let total = 0;
      for (const [k, c] of this.children.entries()) {
        if (!c.alive) throw new Error(`${c.name} exited\n${c.describe()}`);
        const msgs = messages(c);
        const end = msgs.find((m) => m.t === "loggedIn");
        if (end?.stats) done.set(k, end.stats);
        const last = msgs.findLast((m) => m.t === "progress");
        total += end?.stats?.loggedIn ?? last?.loggedIn ?? 0;
      }
      options.progress(total);
      if (done.size === this.children.length) break;
      if (performance.now() > deadline) {
        throw new Error(`Logins not done after ${options.timeoutMs} ms (${total} logged in)`);
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    return this.children.map((_, k) => done.get(k)!);
  }

  /** Sends `word` to every process and waits for each one's answer. */
  async ask(word: string): Promise<ChildMessage[]> {
    return await Promise.all(this.children.map(async (c) => {
      const since = c.stdout.lines().length;
      await c.type(word);
      const line = await c.waitForLine(/^\{"t":"(?!progress|loggedIn)/, {
        since,
        timeoutMs: ANSWER_TIMEOUT_MS,
      });
      const msg = JSON.parse(line.text) as ChildMessage;
      if (msg.t === "error") throw new Error(`${c.name}: ${word} failed: ${msg.error}`);
      return msg;
    }));
  }

  /** Every process's stats. */
  async stats(): Promise<PeerStats[]> {
    return (await this.ask("stats")).map((m) => m.stats!);
  }

  /** Asks every process to quit, then kills those still running. */
  async close(): Promise<void> {
    await Promise.all(this.children.map(async (c) => {
      await c.type("quit").catch(() => {});
      await c.endInput();
      const timer = setTimeout(() => c.kill("SIGKILL").catch(() => {}), 10_000);
      await c.exited;
      clearTimeout(timer);
    }));
  }
}

function messages(c: ShoalProcess): ChildMessage[] {
  const out = [];
  for (const l of c.stdout.lines()) {
    if (!l.startsWith("{")) continue;
    try {
      out.push(JSON.parse(l) as ChildMessage);
    } catch { /* not ours */ }
  }
  return out;
}
