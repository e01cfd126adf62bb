/**
 * A shoal swarm for the download benchmarks: a tracker pair, seeders in group
 * g1 and short-lived downloaders, all `main.ts` processes on loopback driven
 * through their shells, with their files in one temporary folder.
 */
import { cpuSeconds, freePort, peakRssMiB, Proc } from "../demo/procs.ts";

/** Longest a single upload or download may take. */
const TRANSFER_TIMEOUT_MS = 600_000;
/** Longest a shell command or a tracker start may take. */
const COMMAND_TIMEOUT_MS = 60_000;
/** Pause after a downloader logs in, so its worker pool is up before the timed download. */
const WARM_UP_MS = 300;
/** The group every benchmark file is shared in. */
const GROUP = "g1";

/** The downloader's figures for one download. */
export interface Transfer {
  seconds: number;
  cpu: number;
  rss: number;
}

/** Trackers, seeders and downloaders of one benchmark run. */
export class Swarm {
  readonly dir: string;
  readonly info: string;
  readonly seeders: Proc[] = [];
  /** The running tracker processes, by number (null while one is down). */
  readonly trackers: [Proc | null, Proc | null] = [null, null];
  #procs = new Set<Proc>();
  #users = 0;
  /** Whether each seeder is logged in. */
  #online: boolean[] = [];

  private constructor(dir: string) {
    this.dir = dir;
    this.info = `${dir}/tracker_info.txt`;
  }

  /** Starts the tracker pair (tracker 1 primary) in a fresh temporary folder. */
  static async start(): Promise<Swarm> {
    const s = new Swarm(await Deno.makeTempDir({ prefix: "shoal-bench-" }));
    await Deno.writeTextFile(s.info, `127.0.0.1:${freePort()}\n127.0.0.1:${freePort()}\n`);
    await s.startTracker(1, /now primary/);
    await s.startTracker(2, /Caught up/);
    return s;
  }

  /** Starts tracker `n` and waits for `ready` in its log. */
  async startTracker(n: 1 | 2, ready = /Caught up|now primary/): Promise<void> {
    const dataDir = `${this.dir}/t${n}`;
    const key = `${this.dir}/cluster.key`;
    const p = this.#spawn([
      "tracker",
      this.info,
      String(n),
      "--data-dir",
      dataDir,
      "--cluster-key",
      key,
    ]);
    this.trackers[n - 1] = p;
    await p.waitFor(ready, COMMAND_TIMEOUT_MS);
  }

  /** Kills tracker `n` with SIGKILL and waits until it is gone. */
  async killTracker(n: 1 | 2): Promise<void> {
    const p = this.trackers[n - 1];
    if (!p) return;
    this.trackers[n - 1] = null;
    this.#procs.delete(p);
    await p.stop("SIGKILL");
  }

  /** Adds seeders until there are `total`; the first creates g1, the others join it. */
  async addSeeders(total: number): Promise<void> {
    while (this.seeders.length < total) {
      const i = this.seeders.length + 1;
      const p = await this.#peer(`s${i}`);
      this.seeders.push(p);
      this.#online.push(true);
      if (i === 1) await this.command(p, `create_group ${GROUP}`, /created group/);
      else await this.#join(p, `s${i}`);
    }
  }

  /** Has the first `count` seeders (logged in, the others out) upload `path`; returns each upload's seconds. */
  async share(path: string, count: number): Promise<number[]> {
    await this.addSeeders(count);
    await this.onlineSeeders(count);
    const secs = [];
    for (const s of this.seeders.slice(0, count)) {
      const t0 = performance.now();
      await this.command(s, `upload_file ${path} ${GROUP}`, /^shared /, TRANSFER_TIMEOUT_MS);
      secs.push((performance.now() - t0) / 1000);
    }
    return secs;
  }

  /** Logs in the first `k` seeders and logs out the others (whose offers are withdrawn). */
  async onlineSeeders(k: number): Promise<void> {
    for (const [i, s] of this.seeders.entries()) {
      if (this.#online[i] === i < k) continue;
      if (i < k) await this.command(s, `login s${i + 1} pw`, /logged in as/);
      else await this.command(s, "logout", /logged out/);
      this.#online[i] = i < k;
    }
  }

  /** A new peer with its own user, a member of g1, ready to download. */
  async downloader(): Promise<Proc> {
    const user = `d${++this.#users}`;
    const d = await this.#peer(user);
    await this.#join(d, user);
    await new Promise((res) => setTimeout(res, WARM_UP_MS));
    return d;
  }

  /** Starts a download of `name` on `d` into a fresh folder; returns that folder. */
  async startDownload(d: Proc, name: string): Promise<string> {
    const dest = await Deno.makeTempDir({ dir: this.dir, prefix: "dl-" });
    await d.send(`download_file ${GROUP} ${name} ${dest}`);
    return dest;
  }

  /** Waits for the download on `d` to end; throws if it failed. */
  async downloadEnded(d: Proc, from: number): Promise<void> {
    const line = await d.waitFor(/download of .* (complete|failed)/, TRANSFER_TIMEOUT_MS, from);
    if (line.includes("failed")) throw new Error(line);
  }

  /** Downloads `name` on `d`, timed from the command to the verified file. */
  async download(d: Proc, name: string): Promise<Transfer> {
    const cpu0 = cpuSeconds(d.pid);
    const from = d.lines.length;
    const t0 = performance.now();
    await this.startDownload(d, name);
    await this.downloadEnded(d, from);
    const seconds = (performance.now() - t0) / 1000;
    return { seconds, cpu: cpuSeconds(d.pid) - cpu0, rss: peakRssMiB(d.pid) };
  }

  /** Logs `d` out (so no lookup lists it any more), stops it and removes its downloads. */
  async dropDownloader(d: Proc): Promise<void> {
    await this.command(d, "logout", /logged out/);
    await d.stop();
    this.#procs.delete(d);
    for await (const e of Deno.readDir(this.dir)) {
      if (e.name.startsWith("dl-")) await Deno.remove(`${this.dir}/${e.name}`, { recursive: true });
    }
  }

  /** Sends `line` to `p` and waits for its answer matching `ok`; throws on an `error:` line. */
  async command(
    p: Proc,
    line: string,
    ok: RegExp,
    timeoutMs = COMMAND_TIMEOUT_MS,
  ): Promise<string> {
    const from = p.lines.length;
    await p.send(line);
    const got = await p.waitFor(new RegExp(`${ok.source}|^error:`), timeoutMs, from);
    if (got.startsWith("error:")) throw new Error(`${line}: ${got}`);
    return got;
  }

  /** Stops every process and removes the folder. */
  async close(): Promise<void> {
    for (const p of this.#procs) await p.stop();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }

  #spawn(args: string[]): Proc {
    const p = new Proc(args);
    this.#procs.add(p);
    return p;
  }

  async #peer(user: string): Promise<Proc> {
    const addr = `127.0.0.1:${freePort()}`;
    const p = this.#spawn(["peer", addr, this.info, "--state-dir", `${this.dir}/${user}`]);
    await this.command(p, `create_user ${user} pw`, /created user/);
    await this.command(p, `login ${user} pw`, /logged in as/);
    return p;
  }

  async #join(p: Proc, user: string): Promise<void> {
    await this.command(p, `join_group ${GROUP}`, /requested to join/);
    await this.command(this.seeders[0]!, `accept_request ${GROUP} ${user}`, /accepted /);
  }
}
