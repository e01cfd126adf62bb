/** A pair of real tracker processes sharing a tracker_info file and a cluster key. */
import { TrackerClient, type TrackerClientOptions } from "../peer/tracker_client/tracker_client.ts";
import type { Endpoint } from "../shared/tracker_info.ts";
import { freePort, OutputCollector, spawnShoal, waitFor } from "./_process.ts";
import { type PeerOptions, type PeerRun, PeerShell, runPeer } from "./_peer_shell.ts";

/** Heartbeat and grace period given to every tracker, so failover takes well under a second. */
export const HEARTBEAT_MS = 200;
export const GRACE_MS = 500;

/** How long a tracker may take to start and settle its role. */
const START_TIMEOUT_MS = 15_000;

const encoder = new TextEncoder();

/** What a tracker's console `status` command shows. */
export interface TrackerStatus {
  role: string;
  epoch: number;
  /** Index of its last log entry. */
  index: number;
  commitIndex: number;
  /** The line about the other tracker, e.g. "other tracker: connected, secondary, ...". */
  other: string;
  /** Open client connections. */
  connections: number;
}

/** One `shoal tracker` process. */
export class TrackerProcess {
  readonly n: 1 | 2;
  readonly child: Deno.ChildProcess;
  readonly stderr: OutputCollector;
  readonly stdout: OutputCollector;
  /** Set once the process has exited. */
  exit: Deno.CommandStatus | null = null;
  /** Resolves with the exit status. */
  readonly exited: Promise<Deno.CommandStatus>;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;

  constructor(n: 1 | 2, args: string[]) {
    this.n = n;
    this.child = spawnShoal(args);
    this.stderr = new OutputCollector(this.child.stderr);
    this.stdout = new OutputCollector(this.child.stdout);
    this.#stdin = this.child.stdin.getWriter();
    this.exited = this.child.status.then((s) => this.exit = s);
  }

  /** True while the process runs. */
  get alive(): boolean {
    return this.exit === null;
  }

  /** Current length of the log, to wait only for lines logged after this point. */
  mark(): number {
    return this.stderr.text.length;
  }

  /** Waits until the log (from offset `since`) matches `re`; returns the match. */
  async waitForLog(
    re: RegExp,
    options: { since?: number; timeoutMs?: number } = {},
  ): Promise<RegExpExecArray> {
    try {
      return await waitFor(() => {
        if (!this.alive) throw new Error(`tracker ${this.n} exited (${this.exit?.code})`);
        return re.exec(this.stderr.text.slice(options.since ?? 0));
      }, { timeoutMs: options.timeoutMs ?? START_TIMEOUT_MS, what: `${re} in tracker ${this.n}` });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- tracker ${this.n} log ---\n${this.log()}`);
    }
  }

  /** Waits for "Tracker n is now primary (epoch e)"; returns the epoch. */
  async waitPrimary(options: { since?: number; timeoutMs?: number } = {}): Promise<number> {
    const m = await this.waitForLog(
      new RegExp(`Tracker ${this.n} is now primary \\(epoch (\\d+)\\)`),
      options,
    );
    return Number(m[1]);
  }

  /** Waits for "Caught up with the primary at index i"; returns the index. */
  async waitCaughtUp(options: { since?: number; timeoutMs?: number } = {}): Promise<number> {
    const m = await this.waitForLog(/Caught up with the primary at index (\d+)/, options);
    return Number(m[1]);
  }

  /** Types a line on the tracker's console. */
  async console(line: string): Promise<void> {
    await this.#stdin.write(encoder.encode(line + "\n"));
  }

  /** Runs `status` on the console and parses its lines (the first to `connections:`). */
  async status(): Promise<TrackerStatus> {
    const before = this.stdout.lines().length;
    await this.console("status");
    const lines = await waitFor(() => {
      const out = this.stdout.lines().slice(before);
      const at = out.findIndex((l) => l.startsWith(`tracker ${this.n}: `));
      const end = out.findIndex((l, i) => i > at && l.startsWith("connections: "));
      return at >= 0 && end > at ? out.slice(at, end + 1) : null;
    }, { what: `the status of tracker ${this.n}` });
    const m = /^tracker \d: (\w+), epoch (\d+), last op (\d+) \(committed (\d+)\)/.exec(lines[0]!);
    const c = /^connections: (\d+)$/.exec(lines.at(-1)!);
    if (!m || !c) throw new Error(`Unexpected status of tracker ${this.n}:\n${lines.join("\n")}`);
    return {
      role: m[1]!,
      epoch: Number(m[2]),
      index: Number(m[3]),
      commitIndex: Number(m[4]),
      other: lines[1]!,
      connections: Number(c[1]),
    };
  }

  /** Sends `signal` (e.g. SIGSTOP, SIGCONT) without waiting for anything. */
  signal(signal: Deno.Signal): void {
    this.child.kill(signal);
  }

  /** Sends `signal` and waits for the process to exit. */
  async kill(signal: Deno.Signal = "SIGKILL"): Promise<Deno.CommandStatus> {
    if (this.alive) {
      try {
        this.child.kill(signal);
      } catch { /* already gone */ }
    }
    return await this.finish();
  }

  /** Waits for exit and releases the pipes. */
  async finish(): Promise<Deno.CommandStatus> {
    const status = await this.exited;
    await this.#stdin.close().catch(() => {});
    await Promise.all([this.stderr.done, this.stdout.done]);
    return status;
  }

  /** The stderr log so far. */
  log(): string {
    return this.stderr.text;
  }
}

/** Options for {@linkcode TrackerPair.create}. */
export interface PairOptions {
  heartbeatMs?: number;
  graceMs?: number;
}

/**
 * Two trackers sharing a tracker_info file and a cluster key, each with its own
 * data directory, all in one temporary directory.
 */
export class TrackerPair {
  readonly dir: string;
  readonly infoPath: string;
  readonly keyPath: string;
  readonly endpoints: [Endpoint, Endpoint];
  readonly trackers: [TrackerProcess | null, TrackerProcess | null] = [null, null];
  readonly #options: PairOptions;
  readonly #all: TrackerProcess[] = [];
  readonly #clients: TrackerClient[] = [];

  private constructor(dir: string, options: PairOptions) {
    this.dir = dir;
    this.infoPath = `${dir}/tracker_info.txt`;
    this.keyPath = `${dir}/cluster.key`;
    this.endpoints = [
      { hostname: "127.0.0.1", port: freePort() },
      { hostname: "127.0.0.1", port: freePort() },
    ];
    this.#options = options;
  }

  /** Makes the directory and the tracker_info file; starts nothing. */
  static async create(options: PairOptions = {}): Promise<TrackerPair> {
    const dir = await Deno.makeTempDir({ prefix: "shoal-e2e-" });
    const pair = new TrackerPair(dir, options);
    await Deno.writeTextFile(
      pair.infoPath,
      pair.endpoints.map((e) => `${e.hostname}:${e.port}`).join("\n") + "\n",
    );
    return pair;
  }

  /** Starts tracker 1 and waits until it is primary, then tracker 2 until it has caught up. */
  static async start(options: PairOptions = {}): Promise<TrackerPair> {
    const pair = await TrackerPair.create(options);
    try {
      await pair.startTracker(1, "primary");
      await pair.startTracker(2, "secondary");
    } catch (err) {
      await pair.close();
      throw err;
    }
    return pair;
  }

  /** The data directory of tracker `n`. */
  dataDir(n: 1 | 2): string {
    return `${this.dir}/t${n}`;
  }

  /** The running process of tracker `n`; throws when it is not running. */
  tracker(n: 1 | 2): TrackerProcess {
    const t = this.trackers[n - 1];
    if (!t) throw new Error(`tracker ${n} is not running`);
    return t;
  }

  /**
   * Starts (or restarts) tracker `n` and, if asked, waits until its log says it
   * is primary or that it has caught up with the primary as secondary.
   */
  async startTracker(n: 1 | 2, expect?: "primary" | "secondary"): Promise<TrackerProcess> {
    const old = this.trackers[n - 1];
    if (old?.alive) throw new Error(`tracker ${n} is already running`);
    const t = new TrackerProcess(n, [
      "tracker",
      this.infoPath,
      String(n),
      "--data-dir",
      this.dataDir(n),
      "--cluster-key",
      this.keyPath,
      "--heartbeat",
      String(this.#options.heartbeatMs ?? HEARTBEAT_MS),
      "--grace",
      String(this.#options.graceMs ?? GRACE_MS),
    ]);
    this.trackers[n - 1] = t;
    this.#all.push(t);
    if (expect === "primary") await t.waitPrimary();
    if (expect === "secondary") await t.waitCaughtUp();
    return t;
  }

  /** Kills tracker `n` (SIGKILL by default) and waits for it to exit. */
  async kill(n: 1 | 2, signal: Deno.Signal = "SIGKILL"): Promise<Deno.CommandStatus> {
    return await this.tracker(n).kill(signal);
  }

  /** A failover client for this pair, closed with the pair. */
  client(options: Partial<TrackerClientOptions> = {}): TrackerClient {
    const c = new TrackerClient({ trackers: this.endpoints, ...options });
    this.#clients.push(c);
    return c;
  }

  /** Runs a peer shell with `lines` on stdin against this pair. */
  async peer(lines: string[], options: PeerOptions = {}): Promise<PeerRun> {
    return await runPeer(this.infoPath, lines, { stateDir: this.#peerDir(), ...options });
  }

  /** Starts an interactive peer shell against this pair. */
  async shell(options: PeerOptions = {}): Promise<PeerShell> {
    return await PeerShell.start(this.infoPath, { stateDir: this.#peerDir(), ...options });
  }

  #peerDir(): string {
    return `${this.dir}/peer-${crypto.randomUUID()}`;
  }

  /** Both trackers' logs, for failure messages. */
  logs(): string {
    return this.#all.map((t) => `--- tracker ${t.n} ---\n${t.log()}`).join("\n");
  }

  /** Closes clients, kills every tracker ever started and removes the directory. */
  async close(): Promise<void> {
    for (const c of this.#clients) await c.close().catch(() => {});
    for (const t of this.#all) await t.kill("SIGKILL").catch(() => {});
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}
