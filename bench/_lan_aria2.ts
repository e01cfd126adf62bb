/**
 * The aria2 arm of bench/lan_bench.ts, on the same testbed as shoal: an
 * opentracker on host "t", aria2c seeders on the seeder hosts and aria2c
 * downloaders on the downloader hosts, each behind `ip netns exec`, one torrent
 * of the same file with 512 KiB pieces. Every download is checked by SHA-1.
 */
import { inNetns, type Testbed } from "../tests/harness/netns.ts";
import { Download, makeTorrent, sha1File, startSeeder, stopGracefully, Tracker } from "./_aria2.ts";

/** opentracker's port on host "t" (shoal's trackers there use 5000 and 7000). */
const TRACKER_PORT = 6969;
/** aria2c's ports on every host (shoal's peers use 6001; DHT is off but needs a port). */
const LISTEN_PORT = 6881;
const DHT_PORT = 6882;
/** How long the tracker may take to show a seeder count after seeders start or stop. */
const SEEDERS_SETTLE_MS = 60_000;

/** aria2c seeders and downloaders of one file on a testbed. */
export class Aria2Lan {
  readonly #bed: Testbed;
  readonly #dir: string;
  readonly #name: string;
  readonly #torrent: string;
  readonly #sha1: string;
  readonly #infoHash: string;
  readonly #tracker: Tracker;
  /** The running seeders by host. */
  readonly #seeders = new Map<string, Deno.ChildProcess>();
  #downloads = 0;

  private constructor(
    bed: Testbed,
    dir: string,
    file: { name: string; torrent: string; sha1: string; infoHash: string },
    tracker: Tracker,
  ) {
    this.#bed = bed;
    this.#dir = dir;
    this.#name = file.name;
    this.#torrent = file.torrent;
    this.#sha1 = file.sha1;
    this.#infoHash = file.infoHash;
    this.#tracker = tracker;
  }

  /** Makes the torrent of `path` (in a folder of its own under `dir`) and starts opentracker on "t". */
  static async start(bed: Testbed, path: string, dir: string): Promise<Aria2Lan> {
    const name = path.split("/").at(-1)!;
    const work = await Deno.makeTempDir({ dir, prefix: "aria2-" });
    const torrent = `${work}/${name}.torrent`;
    const announce = `http://${bed.addr("t")}:${TRACKER_PORT}/announce`;
    const infoHash = await makeTorrent(path, torrent, announce);
    const trackerDir = `${work}/tracker`;
    await Deno.mkdir(trackerDir);
    await Deno.writeTextFile(`${trackerDir}/whitelist.txt`, `${infoHash}\n`);
    const tracker = await Tracker.start(trackerDir, TRACKER_PORT, {
      host: bed.addr("t"),
      prefix: inNetns(bed.ns("t")),
    });
    const file = { name, torrent, sha1: await sha1File(path), infoHash };
    const lan = new Aria2Lan(bed, work, file, tracker);
    // Each seeder gets a hard link of this one in a folder of its own.
    await Deno.link(path, `${work}/${name}`);
    return lan;
  }

  #placed(host: string) {
    return {
      listenPort: LISTEN_PORT,
      dhtPort: DHT_PORT,
      prefix: inNetns(this.#bed.ns(host)),
      externalIp: this.#bed.addr(host),
    };
  }

  /** Runs a seeder on exactly `hosts` (stopping the others), and waits until the tracker lists them. */
  async seedOn(hosts: string[]): Promise<void> {
    for (const [host, child] of this.#seeders) {
      if (hosts.includes(host)) continue;
      await stopGracefully(child);
      this.#seeders.delete(host);
    }
    for (const host of hosts) {
      if (this.#seeders.has(host)) continue;
      const dir = `${this.#dir}/seed-${host}`;
      await Deno.mkdir(dir, { recursive: true });
      await Deno.link(`${this.#dir}/${this.#name}`, `${dir}/${this.#name}`).catch((e) => {
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      });
      this.#seeders.set(host, startSeeder(this.#torrent, dir, this.#placed(host)));
    }
    const end = Date.now() + SEEDERS_SETTLE_MS;
    let n;
    while ((n = await this.#tracker.seeders(this.#infoHash)) !== hosts.length) {
      if (Date.now() > end) throw new Error(`opentracker lists ${n} seeders, not ${hosts.length}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /**
   * Downloads the file on each of `hosts`, all started together at `t0`
   * (performance.now(), default now); returns each one's seconds from `t0` to
   * its verified file, in the order of `hosts`. With several hosts they go on
   * seeding to each other until the last is done, as shoal downloaders serve
   * their pieces; then they stop and each file's SHA-1 is checked.
   */
  async download(hosts: string[], t0 = performance.now()): Promise<number[]> {
    const dirs = hosts.map((h) => `${this.#dir}/dl${++this.#downloads}-${h}`);
    for (const d of dirs) await Deno.mkdir(d);
    const started = await Promise.all(hosts.map((h, i) =>
      Download.start(this.#torrent, dirs[i]!, {
        ...this.#placed(h),
        seed: hosts.length > 1,
        hook: `${dirs[i]}.hook.sh`,
      })
    ));
    const done = await Promise.all(started.map((d) => d.done)).finally(() =>
      Promise.all(started.map((d) => d.stop()))
    );
    for (const d of dirs) {
      const got = await sha1File(`${d}/${this.#name}`).catch(() => "missing");
      await Deno.remove(d, { recursive: true });
      await Deno.remove(`${d}.hook.sh`);
      if (got !== this.#sha1) {
        throw new Error(`aria2c's ${this.#name} in ${d} has SHA-1 ${got}, not ${this.#sha1}`);
      }
    }
    return done.map((t) => (t - t0) / 1000);
  }

  /** Stops every seeder and the tracker. */
  async close(): Promise<void> {
    for (const child of this.#seeders.values()) await stopGracefully(child);
    this.#seeders.clear();
    await this.#tracker.stop();
  }
}

/** How the aria2 arm is set up, for the report. */
export const ARIA2_LAN_SETTINGS =
  "aria2c with opentracker (on host t), one torrent of the same file with 512 KiB pieces (mktorrent -l 19); peers from the tracker only (DHT, local peer discovery and peer exchange off), no rate limits (--max-upload-limit=0 and the like) and no cap on peers (--bt-max-peers=0), every piece hash-checked; seeders verify their copy first (-V) and seed for ever; the lone downloader exits once complete (--seed-time=0), while crowd downloaders upload to each other from the start and go on seeding (--seed-ratio=0.0) until the last is done, as shoal's do; the tracker interval, --bt-request-peer-speed-limit and aria2's choking (no option for its number of upload slots) are aria2's defaults. Each download is timed from the aria2c start (shoal: from the download command to a logged-in peer) to aria2's completion hook (--on-bt-download-complete), and its file's SHA-1 is checked afterwards. aria2 speaks plain BitTorrent, shoal TLS.";
