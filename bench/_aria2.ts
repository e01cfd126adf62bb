/**
 * External BitTorrent tools for the aria2 comparison: a local opentracker, torrents made
 * with mktorrent, aria2c seeders, and a timed aria2c download.
 */
import { stopChild } from "../tests/harness/process.ts";

/** How long a stopped process gets to exit after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 3_000;
/** How long seeders get to hash their file and announce themselves. */
const SEEDERS_READY_TIMEOUT_MS = 600_000;
/** Longest allowed download. */
const DOWNLOAD_TIMEOUT_MS = 900_000;

/** aria2c options shared by seeders and downloaders: loopback only, tracker only. */
const ARIA2_COMMON = flags(`
  --enable-dht=false --enable-dht6=false --bt-enable-lpd=false --enable-peer-exchange=false
  --bt-external-ip=127.0.0.1 --disable-ipv6=true --file-allocation=falloc
  --console-log-level=warn --summary-interval=0 --allow-overwrite=true --auto-file-renaming=false
`);
/** Options of a seeder: verify the file, seed for ever. */
const SEEDER = flags("-V --bt-seed-unverified=false --seed-ratio=0.0 --log-level=notice");
/** Options of the timed downloader: check every piece, exit once complete. */
const DOWNLOADER = flags(
  "--check-integrity=true --bt-hash-check-seed=true --seed-time=0 --bt-stop-timeout=120",
);

/** Command-line options written as one string, split at white space. */
function flags(text: string): string[] {
  return text.trim().split(/\s+/);
}

/** aria2c's ports and download folder. */
function where(dir: string, opts: { listenPort: number; dhtPort: number }): string[] {
  return [`--listen-port=${opts.listenPort}`, `--dht-listen-port=${opts.dhtPort}`, "-d", dir];
}

/** The first of the needed tools that is not installed, or undefined if all are. */
export async function missingTool(): Promise<string | undefined> {
  for (const tool of ["aria2c", "mktorrent", "opentracker"]) {
    const out = await new Deno.Command("sh", {
      args: ["-c", `command -v ${tool}`],
      stdout: "null",
      stderr: "null",
    }).output();
    if (!out.success) return tool;
  }
  // Peak RSS and CPU time of the downloader come from GNU time (Debian package "time").
  const hasTime = await Deno.stat("/usr/bin/time").then(() => true, () => false);
  return hasTime ? undefined : "/usr/bin/time";
}

/** Runs a command to completion and returns its stdout; throws with its output on failure. */
async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(`${cmd} failed: ${dec.decode(out.stdout)}${dec.decode(out.stderr)}`);
  }
  return dec.decode(out.stdout);
}

/** Creates `torrentPath` for `filePath` with 512 KiB pieces; returns its hex info hash. */
export async function makeTorrent(
  filePath: string,
  torrentPath: string,
  announce: string,
): Promise<string> {
  await run("mktorrent", ["-l", "19", "-a", announce, "-o", torrentPath, filePath]);
  const m = /Info Hash: ([0-9a-f]{40})/i.exec(await run("aria2c", ["-S", torrentPath]));
  if (!m) throw new Error(`No info hash in aria2c -S output for ${torrentPath}`);
  return m[1]!.toLowerCase();
}

/** An opentracker bound to loopback that accepts only the whitelisted info hashes. */
export class Tracker {
  readonly announce: string;
  readonly #child: Deno.ChildProcess;
  readonly #port: number;

  private constructor(child: Deno.ChildProcess, port: number) {
    this.#child = child;
    this.#port = port;
    this.announce = `http://127.0.0.1:${port}/announce`;
  }

  /**
   * Starts opentracker in the foreground, chrooted to `dir` (which must hold `whitelist.txt`).
   * Debian builds opentracker in whitelist mode and refuses to keep root privileges, so as
   * root it drops to `nobody`, and `dir` must be world-readable.
   */
  static async start(dir: string, port: number): Promise<Tracker> {
    await Deno.writeTextFile(`${dir}/opentracker.conf`, "access.whitelist whitelist.txt\n");
    await Deno.chmod(dir, 0o755);
    const p = String(port);
    const args = ["-i", "127.0.0.1", "-p", p, "-P", p, "-f", `${dir}/opentracker.conf`, "-d", dir];
    if (Deno.uid() === 0) args.push("-u", "nobody");
    const child = new Deno.Command("opentracker", { args, stdout: "null", stderr: "null" })
      .spawn();
    const tracker = new Tracker(child, port);
    const end = Date.now() + 10_000;
    for (;;) {
      try {
        await (await fetch(`http://127.0.0.1:${port}/stats`)).body?.cancel();
        return tracker;
      } catch (e) {
        if (Date.now() > end) {
          await tracker.stop();
          throw new Error("opentracker did not start listening", { cause: e });
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Number of peers that announced themselves complete (seeders) for `infoHash`. */
  async seeders(infoHash: string): Promise<number> {
    const escaped = infoHash.replace(/../g, "%$&");
    const res = await fetch(`http://127.0.0.1:${this.#port}/scrape?info_hash=${escaped}`);
    const body = new TextDecoder("latin1").decode(await res.arrayBuffer());
    const m = /8:completei(\d+)e/.exec(body);
    return m ? Number(m[1]) : 0;
  }

  /** Waits until at least `n` seeders of `infoHash` are registered. */
  async waitForSeeders(infoHash: string, n: number): Promise<void> {
    const end = Date.now() + SEEDERS_READY_TIMEOUT_MS;
    while ((await this.seeders(infoHash)) < n) {
      if (Date.now() > end) throw new Error(`Only ${await this.seeders(infoHash)}/${n} seeders`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Stops the tracker. */
  async stop(): Promise<void> {
    await stopChild(this.#child, STOP_GRACE_MS);
  }
}

/** Starts an aria2c seeder of `torrent` whose data file already sits in `dir`. */
export function startSeeder(
  torrent: string,
  dir: string,
  opts: { listenPort: number; dhtPort: number },
): Deno.ChildProcess {
  return new Deno.Command("aria2c", {
    args: [...ARIA2_COMMON, ...SEEDER, `--log=${dir}/aria2.log`, ...where(dir, opts), torrent],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/** Wall time, peak RSS and CPU time of one aria2c download. */
export interface DownloadResult {
  seconds: number;
  rssMiB: number;
  cpuSeconds: number;
}

/**
 * Downloads `torrent` into `dir` with aria2c (hash checking on, exiting once complete),
 * timed from process start to exit; peak RSS and CPU come from `/usr/bin/time -v`.
 */
export async function timedDownload(
  torrent: string,
  dir: string,
  opts: { listenPort: number; dhtPort: number },
): Promise<DownloadResult> {
  const timeOut = `${dir}.time`;
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), DOWNLOAD_TIMEOUT_MS);
  const t0 = performance.now();
  const out = await new Deno.Command("/usr/bin/time", {
    args: [
      "-v",
      "-o",
      timeOut,
      "aria2c",
      ...ARIA2_COMMON,
      ...DOWNLOADER,
      ...where(dir, opts),
      torrent,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: ac.signal,
  }).output();
  const seconds = (performance.now() - t0) / 1000;
  clearTimeout(timer);
  const report = await Deno.readTextFile(timeOut).catch(() => "");
  await Deno.remove(timeOut).catch(() => {});
  if (!out.success) {
    const dec = new TextDecoder();
    throw new Error(
      `aria2c download failed (code ${out.code}): ${dec.decode(out.stdout)}${
        dec.decode(out.stderr)
      }`,
    );
  }
  const num = (re: RegExp) => Number(re.exec(report)?.[1] ?? NaN);
  return {
    seconds,
    rssMiB: num(/Maximum resident set size \(kbytes\): (\d+)/) / 1024,
    cpuSeconds: num(/User time \(seconds\): ([\d.]+)/) + num(/System time \(seconds\): ([\d.]+)/),
  };
}

/** Hex SHA-1 of a file, via sha1sum (fast on large files). */
export async function sha1File(path: string): Promise<string> {
  return (await run("sha1sum", [path])).split(" ")[0]!;
}
