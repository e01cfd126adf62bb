/**
 * External BitTorrent tools for the aria2 comparison: an opentracker, torrents made
 * with mktorrent, aria2c seeders, and timed aria2c downloads. Each process runs on
 * loopback, or on a testbed host (tests/harness/netns.ts) behind a command prefix
 * (`ip netns exec <ns>`) at its host's address.
 */
import { stopChild } from "../tests/harness/process.ts";

/** How long a stopped process gets to exit after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 3_000;
/** How long seeders get to hash their file and announce themselves. */
const SEEDERS_READY_TIMEOUT_MS = 600_000;
/** Longest allowed download. */
const DOWNLOAD_TIMEOUT_MS = 900_000;
/** What the completion hook prints on aria2c's stdout. */
const DONE_MARK = "shoal-bench: aria2c download complete";

/**
 * aria2c options shared by seeders and downloaders: peers from the tracker only (no DHT,
 * local peer discovery or peer exchange), no rate limits (0, aria2's default, set anyway)
 * and no cap on peers (`--bt-max-peers=0`; the default is 55).
 */
const ARIA2_COMMON = flags(`
  --enable-dht=false --enable-dht6=false --bt-enable-lpd=false --enable-peer-exchange=false
  --disable-ipv6=true --file-allocation=falloc --enable-color=false
  --max-overall-upload-limit=0 --max-upload-limit=0 --max-overall-download-limit=0
  --max-download-limit=0 --bt-max-peers=0
  --console-log-level=warn --summary-interval=0 --allow-overwrite=true --auto-file-renaming=false
`);
/** Options of a seeder: verify the file, seed for ever. */
const SEEDER = flags("-V --bt-seed-unverified=false --seed-ratio=0.0 --log-level=notice");
/** Options of a downloader: check every piece, give up after 120 s without data. */
const DOWNLOADER = flags("--check-integrity=true --bt-hash-check-seed=true --bt-stop-timeout=120");
/** A downloader that exits once complete. */
const EXIT_WHEN_DONE = flags("--seed-time=0");
/** A downloader that goes on seeding until stopped (the default stops at a share ratio of 1.0). */
const SEED_ON = flags("--seed-ratio=0.0");

/** Command-line options written as one string, split at white space. */
function flags(text: string): string[] {
  return text.trim().split(/\s+/);
}

/** Where an aria2c runs: its ports, and its host (loopback unless a prefix and address are given). */
export interface Placement {
  listenPort: number;
  dhtPort: number;
  /** The command prefix that runs it on its host, e.g. `ip netns exec <ns>`. */
  prefix?: string[];
  /** The address other peers reach it at, announced to the tracker (default 127.0.0.1). */
  externalIp?: string;
}

/** aria2c's ports, announced address and download folder. */
function where(dir: string, opts: Placement): string[] {
  return [
    `--listen-port=${opts.listenPort}`,
    `--dht-listen-port=${opts.dhtPort}`,
    `--bt-external-ip=${opts.externalIp ?? "127.0.0.1"}`,
    "-d",
    dir,
  ];
}

/** `cmd args` behind `prefix`: the program to spawn and its arguments. */
function behind(prefix: string[] | undefined, cmd: string, args: string[]): [string, string[]] {
  const all = [...(prefix ?? []), cmd, ...args];
  return [all[0]!, all.slice(1)];
}

/**
 * The first of the needed tools that is not installed, or undefined if all are;
 * `{ time: false }` leaves out GNU time (only the timed loopback download needs it).
 */
export async function missingTool(options: { time?: boolean } = {}): Promise<string | undefined> {
  for (const tool of ["aria2c", "mktorrent", "opentracker"]) {
    const out = await new Deno.Command("sh", {
      args: ["-c", `command -v ${tool}`],
      stdout: "null",
      stderr: "null",
    }).output();
    if (!out.success) return tool;
  }
  if (options.time === false) return undefined;
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

/**
 * The body of an HTTP GET of `url`, made behind `prefix` (from inside a testbed host, by a
 * short `deno eval` there) or else from this process; throws if it cannot connect.
 */
async function httpGet(url: string, prefix?: string[]): Promise<Uint8Array> {
  if (!prefix) return new Uint8Array(await (await fetch(url)).arrayBuffer());
  const code = `const r = await fetch(${JSON.stringify(url)});` +
    "await Deno.stdout.write(new Uint8Array(await r.arrayBuffer()));";
  const [cmd, args] = behind(prefix, Deno.execPath(), ["eval", "--quiet", code]);
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`GET ${url} failed: ${new TextDecoder().decode(out.stderr)}`);
  return out.stdout;
}

/** An opentracker (on loopback or a testbed host) that accepts only the whitelisted info hashes. */
export class Tracker {
  readonly announce: string;
  readonly #child: Deno.ChildProcess;
  readonly #base: string;
  readonly #prefix: string[] | undefined;

  private constructor(child: Deno.ChildProcess, base: string, prefix?: string[]) {
    this.#child = child;
    this.#base = base;
    this.#prefix = prefix;
    this.announce = `${base}/announce`;
  }

  /**
   * Starts opentracker in the foreground, chrooted to `dir` (which must hold `whitelist.txt`).
   * Debian builds opentracker in whitelist mode and refuses to keep root privileges, so as
   * root it drops to `nobody`, and `dir` must be world-readable. It listens on
   * `options.host` (default 127.0.0.1), started behind `options.prefix` if given.
   */
  static async start(
    dir: string,
    port: number,
    options: { host?: string; prefix?: string[] } = {},
  ): Promise<Tracker> {
    await Deno.writeTextFile(`${dir}/opentracker.conf`, "access.whitelist whitelist.txt\n");
    await Deno.chmod(dir, 0o755);
    const p = String(port);
    const host = options.host ?? "127.0.0.1";
    const args = ["-i", host, "-p", p, "-P", p, "-f", `${dir}/opentracker.conf`, "-d", dir];
    if (Deno.uid() === 0) args.push("-u", "nobody");
    const [cmd, all] = behind(options.prefix, "opentracker", args);
    const child = new Deno.Command(cmd, { args: all, stdout: "null", stderr: "null" }).spawn();
    const tracker = new Tracker(child, `http://${host}:${port}`, options.prefix);
    const end = Date.now() + 10_000;
    for (;;) {
      try {
        await httpGet(`${tracker.#base}/stats`, options.prefix);
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
    const raw = await httpGet(`${this.#base}/scrape?info_hash=${escaped}`, this.#prefix);
    const body = new TextDecoder("latin1").decode(raw);
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
export function startSeeder(torrent: string, dir: string, opts: Placement): Deno.ChildProcess {
  const [cmd, args] = behind(opts.prefix, "aria2c", [
    ...ARIA2_COMMON,
    ...SEEDER,
    `--log=${dir}/aria2.log`,
    ...where(dir, opts),
    torrent,
  ]);
  return new Deno.Command(cmd, {
    args,
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
  opts: Placement,
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
      ...EXIT_WHEN_DONE,
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

/**
 * Stops an aria2c with SIGINT, its graceful shutdown (it tells the tracker it stopped;
 * SIGTERM would skip that), then SIGKILL after `graceMs`.
 */
export async function stopGracefully(child: Deno.ChildProcess, graceMs = STOP_GRACE_MS) {
  try {
    child.kill("SIGINT");
  } catch { /* already gone */ }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, graceMs);
  try {
    await child.status;
  } finally {
    clearTimeout(timer);
  }
}

/** A running aria2c download; {@linkcode Download.done} resolves when every piece is verified. */
export class Download {
  /** performance.now() when aria2c's completion hook ran (all pieces verified, before seeding). */
  readonly done: Promise<number>;
  readonly #child: Deno.ChildProcess;

  private constructor(child: Deno.ChildProcess, done: Promise<number>) {
    this.#child = child;
    this.done = done;
    // A failure is seen by whoever awaits `done`; one nobody awaits (another failed first) is dropped.
    done.catch(() => {});
  }

  /**
   * Starts aria2c on `torrent` into `dir`. With `seed` it goes on seeding after completion
   * (as a shoal downloader serves its verified pieces) until {@linkcode stop}; without, it
   * exits once complete. `hook` is a scratch path for the completion hook's script.
   */
  static async start(
    torrent: string,
    dir: string,
    opts: Placement & { seed: boolean; hook: string },
  ): Promise<Download> {
    await Deno.writeTextFile(opts.hook, `#!/bin/sh\necho "${DONE_MARK}"\n`, { mode: 0o755 });
    const [cmd, args] = behind(opts.prefix, "aria2c", [
      ...ARIA2_COMMON,
      ...DOWNLOADER,
      ...(opts.seed ? SEED_ON : EXIT_WHEN_DONE),
      `--on-bt-download-complete=${opts.hook}`,
      ...where(dir, opts),
      torrent,
    ]);
    const child = new Deno.Command(cmd, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    return new Download(child, watch(child));
  }

  /** Stops aria2c (gracefully, see {@linkcode stopGracefully}) and waits for its exit. */
  async stop(): Promise<void> {
    await stopGracefully(this.#child);
  }
}

/**
 * Reads `child`'s stdout to its end (so the pipe never fills); resolves at the completion
 * mark, rejects if aria2c exits without it or takes longer than {@link DOWNLOAD_TIMEOUT_MS}.
 */
function watch(child: Deno.ChildProcess): Promise<number> {
  const stderr = new Response(child.stderr).text();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`aria2c download took over ${DOWNLOAD_TIMEOUT_MS} ms`));
      stopGracefully(child);
    }, DOWNLOAD_TIMEOUT_MS);
    (async () => {
      let text = "";
      const dec = new TextDecoder();
      for await (const chunk of child.stdout) {
        text += dec.decode(chunk, { stream: true });
        if (text.includes(DONE_MARK)) {
          clearTimeout(timer);
          resolve(performance.now());
        }
      }
      const status = await child.status;
      clearTimeout(timer);
      reject(
        new Error(`aria2c exited (code ${status.code}) before completion: ${text}${await stderr}`),
      );
    })().catch(reject);
  });
}

/** Hex SHA-1 of a file, via sha1sum (fast on large files). */
export async function sha1File(path: string): Promise<string> {
  return (await run("sha1sum", [path])).split(" ")[0]!;
}
