/**
 * Helpers for the file-sharing end-to-end tests: peer processes that stay
 * alive between commands (so they keep seeding), a group of logged-in members
 * on a real tracker pair, random files, byte-for-byte comparison, and the
 * per-process I/O counters of `/proc/<pid>/io`.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { PeerDb } from "../peer/store/peer_db.ts";
import { countBits } from "../shared/bitfield.ts";
import { describeError } from "../shared/errors.ts";
import { freePort, MAIN, TrackerPair, waitFor } from "./harness.ts";

export { delay, freePort, waitFor } from "./harness.ts";

const encoder = new TextEncoder();

/** Options for {@linkcode Peer.start}. */
export interface PeerProcessOptions {
  /** The peer's state directory. */
  stateDir: string;
  /** The peer's `ip:port` (default: 127.0.0.1 and a free port). */
  addr?: string;
  /** `--workers`. */
  workers?: number;
  /** `SHOAL_LOG` for this process (default: the peer's own default, warnings). */
  logLevel?: "debug" | "info" | "warning" | "error";
}

/**
 * A `shoal peer` process driven one command at a time while it keeps running.
 * After each command a marker line (an unknown command) is typed; the shell
 * answers lines in order, so everything printed before the marker's error
 * belongs to the command (plus any asynchronous notices).
 */
export class Peer {
  readonly child: Deno.ChildProcess;
  readonly addr: string;
  readonly stateDir: string;
  readonly label: string;
  /** Everything printed on stdout so far. */
  stdout = "";
  /** Everything logged on stderr so far. */
  stderr = "";
  exit: Deno.CommandStatus | null = null;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #seen = 0;
  #marks = 0;
  #pumps: Promise<void>[];

  private constructor(label: string, infoPath: string, options: PeerProcessOptions) {
    this.label = label;
    this.addr = options.addr ?? `127.0.0.1:${freePort()}`;
    this.stateDir = options.stateDir;
    const args = ["run", "--allow-all", MAIN, "peer", this.addr, infoPath];
    args.push("--state-dir", options.stateDir);
    if (options.workers !== undefined) args.push("--workers", String(options.workers));
    const env: Record<string, string> = { NO_COLOR: "1" };
    if (options.logLevel) env.SHOAL_LOG = options.logLevel;
    this.child = new Deno.Command(Deno.execPath(), {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env,
    }).spawn();
    this.#stdin = this.child.stdin.getWriter();
    this.#pumps = [
      collect(this.child.stdout, (s) => this.stdout += s),
      collect(this.child.stderr, (s) => this.stderr += s),
    ];
    this.child.status.then((s) => this.exit = s);
  }

  /** Starts a peer and waits until its shell answers. */
  static async start(label: string, infoPath: string, options: PeerProcessOptions): Promise<Peer> {
    const p = new Peer(label, infoPath, options);
    try {
      await p.run("");
    } catch (err) {
      await p.kill();
      throw err;
    }
    return p;
  }

  /** The process id. */
  get pid(): number {
    return this.child.pid;
  }

  /** True while the process runs. */
  get alive(): boolean {
    return this.exit === null;
  }

  /** Runs one command line; returns the lines printed until it finished. */
  async run(line: string, timeoutMs = 30_000): Promise<string[]> {
    const mark = `__sync_${++this.#marks}`;
    await this.#stdin.write(encoder.encode(`${line}\n${mark}\n`));
    return await waitFor(() => {
      if (!this.alive) throw new Error(`${this.label} exited\n${this.describe()}`);
      const all = this.stdout.split("\n");
      all.pop();
      const at = all.findIndex((l, i) => i >= this.#seen && l.includes(mark));
      if (at < 0) return null;
      const out = all.slice(this.#seen, at);
      this.#seen = at + 1;
      return out;
    }, { timeoutMs, what: `${this.label}'s answer to "${line}"\n${this.describe()}` });
  }

  /** Runs a command that must print exactly one line that is not an error; returns it. */
  async ok(line: string, timeoutMs?: number): Promise<string> {
    const out = (await this.run(line, timeoutMs)).filter((l) => !isNotice(l));
    assert.equal(out.length, 1, `${this.label}: "${line}" printed ${JSON.stringify(out)}`);
    assert.ok(!out[0]!.startsWith("error: "), `${this.label}: "${line}" failed: ${out[0]}`);
    return out[0]!;
  }

  /** Runs a command that must print exactly one `error: ` line; returns it. */
  async error(line: string): Promise<string> {
    const out = (await this.run(line)).filter((l) => !isNotice(l));
    assert.equal(out.length, 1, `${this.label}: "${line}" printed ${JSON.stringify(out)}`);
    assert.match(out[0]!, /^error: /, `${this.label}: "${line}" did not fail`);
    return out[0]!;
  }

  /** Waits until stdout (from offset `since`) matches `re`. */
  async waitStdout(
    re: RegExp,
    options: { since?: number; timeoutMs?: number } = {},
  ): Promise<RegExpExecArray> {
    return await waitFor(() => re.exec(this.stdout.slice(options.since ?? 0)), {
      timeoutMs: options.timeoutMs ?? 30_000,
      what: `${re} on ${this.label}'s stdout\n${this.describe()}`,
    });
  }

  /** The bytes this process has read and written so far (`/proc/<pid>/io`). */
  io(): { rchar: number; wchar: number } {
    const text = Deno.readTextFileSync(`/proc/${this.pid}/io`);
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, "m").exec(text)![1]);
    return { rchar: field("rchar"), wchar: field("wchar") };
  }

  /** Sends `sig` (e.g. SIGSTOP, SIGCONT) without waiting for anything. */
  signal(sig: Deno.Signal): void {
    this.child.kill(sig);
  }

  /** Kills the process (SIGKILL by default) and waits for it and its pipes. */
  async kill(sig: Deno.Signal = "SIGKILL"): Promise<void> {
    if (this.alive) {
      try {
        this.child.kill(sig);
      } catch { /* already gone */ }
    }
    await this.child.status;
    await this.#stdin.close().catch(() => {});
    await Promise.all(this.#pumps);
  }

  /** Ends the shell's input and waits for it to exit (killed after 15 s). */
  async close(): Promise<void> {
    await this.#stdin.close().catch(() => {});
    const timer = setTimeout(() => this.kill(), 15_000);
    await this.child.status;
    clearTimeout(timer);
    await Promise.all(this.#pumps);
  }

  /** Output and log, for failure messages. */
  describe(): string {
    const out = this.stdout.split("\n").filter((l) => !/__sync_\d+/.test(l)).join("\n");
    return `--- ${this.label} stdout ---\n${out}\n--- ${this.label} stderr ---\n${
      this.stderr.slice(-4000)
    }`;
  }
}

/** Asynchronous notices that may appear among a command's lines. */
function isNotice(line: string): boolean {
  return /^(download of .* (complete|failed)|stopped sharing .*: |resuming download )/.test(line);
}

async function collect(stream: ReadableStream<Uint8Array>, add: (s: string) => void) {
  const decoder = new TextDecoder();
  try {
    for await (const chunk of stream) add(decoder.decode(chunk, { stream: true }));
  } catch { /* the process died mid-write */ }
  add(decoder.decode());
}

/** The group every member of a {@linkcode Swarm} belongs to. */
export const GROUP = "g1";

/**
 * A tracker pair and peers whose users all belong to {@linkcode GROUP}; the
 * first peer created owns the group and accepts the others.
 */
export class Swarm {
  readonly pair: TrackerPair;
  readonly dir: string;
  readonly peers: Peer[] = [];
  #owner: Peer | null = null;

  private constructor(pair: TrackerPair, dir: string) {
    this.pair = pair;
    this.dir = dir;
  }

  /** Starts a tracker pair and makes a scratch directory for files. */
  static async start(): Promise<Swarm> {
    const pair = await TrackerPair.start();
    const dir = await Deno.makeTempDir({ prefix: "shoal-files-" });
    return new Swarm(pair, dir);
  }

  /** Runs `fn` with a fresh swarm; everything is killed and removed afterwards. */
  static async run(fn: (s: Swarm) => Promise<void>): Promise<void> {
    const s = await Swarm.start();
    try {
      await fn(s);
    } catch (err) {
      throw new Error(`${describeError(err)}\n${s.describe()}`, { cause: err });
    } finally {
      await s.close();
    }
  }

  /** The state directory of the peer labelled `label`. */
  stateDir(label: string): string {
    return `${this.dir}/state-${label}`;
  }

  /** A fresh directory under the scratch directory. */
  async mkdir(name: string): Promise<string> {
    const d = `${this.dir}/${name}`;
    await Deno.mkdir(d, { recursive: true });
    return d;
  }

  /**
   * Starts a peer for user `label`, creates and logs in the user and makes
   * them a member of {@linkcode GROUP}.
   */
  async member(label: string, options: Partial<PeerProcessOptions> = {}): Promise<Peer> {
    const p = await this.start(label, options);
    await p.ok(`create_user ${label} pw-${label}`);
    await p.ok(`login ${label} pw-${label}`);
    if (!this.#owner) {
      await p.ok(`create_group ${GROUP}`);
      this.#owner = p;
    } else {
      await p.ok(`join_group ${GROUP}`);
      await this.#owner.ok(`accept_request ${GROUP} ${label}`);
    }
    return p;
  }

  /** Starts (or restarts) a peer process without logging in. */
  async start(label: string, options: Partial<PeerProcessOptions> = {}): Promise<Peer> {
    const p = await Peer.start(label, this.pair.infoPath, {
      stateDir: this.stateDir(label),
      ...options,
    });
    this.peers.push(p);
    return p;
  }

  /** Every process's output, for failure messages. */
  describe(): string {
    return this.peers.map((p) => p.describe()).join("\n");
  }

  /** Kills every peer and tracker and removes every directory. */
  async close(): Promise<void> {
    for (const p of this.peers) await p.kill().catch(() => {});
    await this.pair.close();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** `size` random bytes. */
export function randomBytes(size: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

/** Writes `size` random bytes to `path`; returns their SHA-1 (hex). */
export async function writeRandomFile(path: string, size: number): Promise<string> {
  using f = await Deno.open(path, { write: true, create: true, truncate: true });
  const hash = createHash("sha1");
  const chunk = new Uint8Array(1024 * 1024);
  for (let off = 0; off < size; off += chunk.length) {
    const part = chunk.subarray(0, Math.min(chunk.length, size - off));
    for (let i = 0; i < part.length; i += 65536) {
      crypto.getRandomValues(part.subarray(i, i + 65536));
    }
    hash.update(part);
    for (let w = 0; w < part.length;) w += await f.write(part.subarray(w));
  }
  return hash.digest("hex");
}

/** The SHA-1 of a file (hex), read in chunks. */
export async function sha1OfFile(path: string): Promise<string> {
  using f = await Deno.open(path, { read: true });
  const hash = createHash("sha1");
  const buf = new Uint8Array(1024 * 1024);
  for (;;) {
    const n = await f.read(buf);
    if (n === null) break;
    hash.update(buf.subarray(0, n));
  }
  return hash.digest("hex");
}

/** Asserts that two files have the same bytes, comparing them chunk by chunk. */
export async function assertSameBytes(actual: string, expected: string): Promise<void> {
  const [sa, se] = [await Deno.stat(actual), await Deno.stat(expected)];
  assert.equal(sa.size, se.size, `${actual} has ${sa.size} bytes, expected ${se.size}`);
  using fa = await Deno.open(actual, { read: true });
  using fe = await Deno.open(expected, { read: true });
  const ba = new Uint8Array(1024 * 1024);
  const be = new Uint8Array(1024 * 1024);
  for (let off = 0; off < se.size;) {
    const len = Math.min(ba.length, se.size - off);
    await readExactly(fa, ba.subarray(0, len));
    await readExactly(fe, be.subarray(0, len));
    for (let i = 0; i < len; i++) {
      if (ba[i] !== be[i]) assert.fail(`${actual} differs from ${expected} at byte ${off + i}`);
    }
    off += len;
  }
}

async function readExactly(f: Deno.FsFile, buf: Uint8Array): Promise<void> {
  for (let off = 0; off < buf.length;) {
    const n = await f.read(buf.subarray(off));
    if (n === null) throw new Error("file ended early");
    off += n;
  }
}

/** True when `path` exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** A download as recorded in a peer's `peer.db`. */
export interface DownloadRow {
  name: string;
  status: string;
  have: Uint8Array;
  /** Number of verified pieces. */
  count: number;
  /** Number of pieces of the file. */
  n: number;
}

/** Reads the downloads table of `<stateDir>/peer.db` (safe while the peer runs: WAL mode). */
export function readDownloads(stateDir: string): DownloadRow[] {
  const db = new PeerDb(stateDir);
  try {
    return db.downloads().map((r) => {
      const n = Math.ceil(r.size / r.pieceSize);
      return { name: r.name, status: r.status, have: r.have, n, count: countBits(r.have, n) };
    });
  } finally {
    db.close();
  }
}

/** Parses `list_files` output into rows by name. */
export function parseListFiles(
  lines: string[],
): Map<string, { sha1: string; seeders: number; partial: number }> {
  const rows = new Map<string, { sha1: string; seeders: number; partial: number }>();
  for (const line of lines) {
    // NAME  SIZE (e.g. "1.5 MiB" or "12 B")  SHA1  SEEDERS  PARTIAL
    const m = /^(\S+)\s+.+?\s+([0-9a-f]{40})\s+(\d+)\s+(\d+)$/.exec(line);
    if (m) rows.set(m[1]!, { sha1: m[2]!, seeders: Number(m[3]), partial: Number(m[4]) });
  }
  return rows;
}
