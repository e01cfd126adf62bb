/**
 * A shoal swarm for the download benchmarks: the swarm of tests/harness (its
 * trackers with their own heartbeat and grace), seeders that are members of
 * the group and short-lived downloaders, each download timed from its command
 * to the verified file.
 */
import type { PeerShell } from "../tests/harness/shell.ts";
import { GROUP, password, Swarm } from "../tests/harness/swarm.ts";
import { delay } from "../tests/harness/wait.ts";

/** Longest a single upload or download may take. */
const TRANSFER_TIMEOUT_MS = 600_000;
/** Pause after a downloader logs in, so its worker pool is up before the timed download. */
const WARM_UP_MS = 300;
/** A downloader's notice that its download ended. */
const ENDED = /download of .* (complete|failed)/;

/** The downloader's figures for one download. */
export interface Transfer {
  seconds: number;
  cpu: number;
  rss: number;
}

/** Seeders and downloaders of one benchmark run, on one tracker pair. */
export class BenchSwarm {
  readonly swarm: Swarm;
  readonly seeders: PeerShell[] = [];
  /** Whether each seeder is logged in. */
  #online: boolean[] = [];
  #users = 0;

  private constructor(swarm: Swarm) {
    this.swarm = swarm;
  }

  /** Starts the tracker pair (tracker 1 primary) in a fresh temporary folder. */
  static async start(): Promise<BenchSwarm> {
    const pair = { heartbeatMs: null, graceMs: null, dirPrefix: "shoal-bench-" };
    return new BenchSwarm(await Swarm.start({ pair, dirPrefix: "shoal-bench-" }));
  }

  /** The scratch folder. */
  get dir(): string {
    return this.swarm.dir;
  }

  /** Adds seeders until there are `total`; the first creates the group, the others join it. */
  async addSeeders(total: number): Promise<void> {
    while (this.seeders.length < total) {
      this.seeders.push(await this.swarm.member(`s${this.seeders.length + 1}`));
      this.#online.push(true);
    }
  }

  /** Has the first `count` seeders (logged in, the others out) upload `path`; returns each upload's seconds. */
  async share(path: string, count: number): Promise<number[]> {
    await this.addSeeders(count);
    await this.onlineSeeders(count);
    const secs = [];
    for (const s of this.seeders.slice(0, count)) {
      const t0 = performance.now();
      await s.ok(`upload_file ${path} ${GROUP}`, TRANSFER_TIMEOUT_MS);
      secs.push((performance.now() - t0) / 1000);
    }
    return secs;
  }

  /** Logs in the first `k` seeders and logs out the others (whose offers are withdrawn). */
  async onlineSeeders(k: number): Promise<void> {
    for (const [i, s] of this.seeders.entries()) {
      if (this.#online[i] === i < k) continue;
      await s.ok(i < k ? `login ${s.label} ${password(s.label)}` : "logout");
      this.#online[i] = i < k;
    }
  }

  /** A new peer with its own user, a member of the group, ready to download. */
  async downloader(): Promise<PeerShell> {
    const d = await this.swarm.member(`d${++this.#users}`);
    await delay(WARM_UP_MS);
    return d;
  }

  /** Starts a download of `name` on `d` into a fresh folder; returns that folder. */
  async startDownload(d: PeerShell, name: string): Promise<string> {
    const dest = await Deno.makeTempDir({ dir: this.dir, prefix: "dl-" });
    await d.ok(`download_file ${GROUP} ${name} ${dest}`);
    return dest;
  }

  /** Waits for the download on `d` to end (a notice after stdout line `since`); throws if it failed. */
  async downloadEnded(d: PeerShell, since: number): Promise<void> {
    const line = await d.proc.waitForLine(ENDED, { since, timeoutMs: TRANSFER_TIMEOUT_MS });
    if (line.text.includes("failed")) throw new Error(line.text);
  }

  /** Downloads `name` on `d`, timed from the command to the verified file. */
  async download(d: PeerShell, name: string): Promise<Transfer> {
    const cpu0 = d.cpuSeconds();
    const since = d.proc.stdout.lines().length;
    const t0 = performance.now();
    await this.startDownload(d, name);
    await this.downloadEnded(d, since);
    const seconds = (performance.now() - t0) / 1000;
    return { seconds, cpu: d.cpuSeconds() - cpu0, rss: d.peakRssMiB() };
  }

  /** Logs `d` out (so no lookup lists it any more), ends it and removes its downloads. */
  async dropDownloader(d: PeerShell): Promise<void> {
    await d.ok("logout");
    await d.close();
    for await (const e of Deno.readDir(this.dir)) {
      if (e.name.startsWith("dl-")) await Deno.remove(`${this.dir}/${e.name}`, { recursive: true });
    }
  }

  /** Stops every process and removes the folders. */
  async close(): Promise<void> {
    await this.swarm.close();
  }
}
