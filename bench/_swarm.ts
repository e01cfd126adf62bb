/**
 * A shoal swarm for the download benchmarks: the swarm of tests/harness (its
 * trackers with their own heartbeat and grace), seeders that are members of
 * the group and short-lived downloaders, each download timed from its command
 * to the verified file.
 */
import { inNetns, type Testbed } from "../tests/harness/netns.ts";
import type { PeerShell, ShellOptions } from "../tests/harness/shell.ts";
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

/** The tracker and peer ports on testbed hosts. */
const TRACKER_PORTS = [5000, 7000] as const;
const PEER_PORT = 6001;

/**
 * Seeders and downloaders of one benchmark run, on one tracker pair: all on
 * loopback, or on a namespace testbed (tests/harness/netns.ts) with the
 * trackers on host "t" and each peer on the host its label names (the label
 * up to a "-": `d-3` runs on host `d`).
 */
export class BenchSwarm {
  readonly swarm: Swarm;
  readonly seeders: PeerShell[] = [];
  readonly bed: Testbed | null;
  /** Whether each seeder is logged in. */
  #online: boolean[] = [];
  #users = 0;

  private constructor(swarm: Swarm, bed: Testbed | null) {
    this.swarm = swarm;
    this.bed = bed;
  }

  /** Starts the tracker pair (tracker 1 primary) in a fresh temporary folder. */
  static async start(options: { bed?: Testbed } = {}): Promise<BenchSwarm> {
    const bed = options.bed ?? null;
    const pair = {
      heartbeatMs: null,
      graceMs: null,
      dirPrefix: "shoal-bench-",
      ...(bed
        ? {
          endpoints: TRACKER_PORTS.map((port) => ({ hostname: bed.addr("t"), port })) as [
            { hostname: string; port: number },
            { hostname: string; port: number },
          ],
          prefix: inNetns(bed.ns("t")),
        }
        : {}),
    };
    return new BenchSwarm(await Swarm.start({ pair, dirPrefix: "shoal-bench-" }), bed);
  }

  /** Where the peer labelled `label` runs: its testbed host, or loopback. */
  placed(label: string): ShellOptions {
    if (!this.bed) return {};
    const host = label.split("-")[0]!;
    return { addr: `${this.bed.addr(host)}:${PEER_PORT}`, prefix: inNetns(this.bed.ns(host)) };
  }

  /** The scratch folder. */
  get dir(): string {
    return this.swarm.dir;
  }

  /** Adds seeders until there are `total`; the first creates the group, the others join it. */
  async addSeeders(total: number): Promise<void> {
    while (this.seeders.length < total) {
      const label = `s${this.seeders.length + 1}`;
      this.seeders.push(await this.swarm.member(label, this.placed(label)));
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

  /** A new peer with its own user, a member of the group, ready to download (on testbed host `host`). */
  async downloader(host?: string): Promise<PeerShell> {
    const label = host ? `${host}-${++this.#users}` : `d${++this.#users}`;
    const d = await this.swarm.member(label, this.placed(label));
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
  /**
   * A flash crowd: `n` new downloaders (downloader i on testbed host
   * `hosts[i]`, if given) get the download command together; returns each
   * one's completion time in seconds from that start, ascending.
   */
  async crowd(name: string, n: number, hosts?: string[]): Promise<number[]> {
    const ds = [];
    for (let i = 0; i < n; i++) ds.push(await this.downloader(hosts?.[i]));
    const froms = ds.map((d) => d.proc.stdout.lines().length);
    const t0 = performance.now();
    await Promise.all(ds.map((d) => this.startDownload(d, name)));
    const times = await Promise.all(
      ds.map((d, i) =>
        this.downloadEnded(d, froms[i]!).then(() => (performance.now() - t0) / 1000)
      ),
    );
    for (const d of ds) await this.dropDownloader(d);
    return times.sort((a, b) => a - b);
  }

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
