/** A pair of real tracker processes sharing a tracker_info file and a cluster key. */
import {
  TrackerClient,
  type TrackerClientOptions,
} from "../../peer/tracker_client/tracker_client.ts";
import type { Endpoint } from "../../shared/tracker_info.ts";
import { freePort } from "./ports.ts";
import { type PeerRun, PeerShell, runPeer, type ShellOptions } from "./shell.ts";
import { TrackerProcess } from "./tracker.ts";

/** Heartbeat and grace period given to every tracker unless told, so failover takes well under a second. */
export const HEARTBEAT_MS = 200;
export const GRACE_MS = 500;

/** Options for {@linkcode TrackerPair.create}. */
export interface PairOptions {
  /** `--heartbeat` (default {@linkcode HEARTBEAT_MS}; null: the tracker's own default). */
  heartbeatMs?: number | null;
  /** `--grace` (default {@linkcode GRACE_MS}; null: the tracker's own default). */
  graceMs?: number | null;
  /** The trackers' addresses (default: 127.0.0.1 and two free ports). */
  endpoints?: [Endpoint, Endpoint];
  /** A command both trackers run behind, e.g. `["ip", "netns", "exec", ns]`. */
  prefix?: string[];
  /** Extra `deno run` flags for both, e.g. `--cpu-prof`. */
  denoFlags?: string[];
  /** Extra environment variables for both. */
  env?: Record<string, string>;
  /** The temporary directory's name prefix (default `shoal-e2e-`). */
  dirPrefix?: string;
  /** Extra `shoal tracker` arguments for both, e.g. `["--http", "127.0.0.1:0"]`. */
  trackerArgs?: string[];
}

/**
 * Two trackers sharing a tracker_info file and a cluster key, each with its own
 * data directory, all in one temporary directory.
 */
export class TrackerPair {
  readonly dir: string;
  readonly infoPath: string;
  readonly keyPath: string;
  /** Where the trackers write the cluster's CA certificate (beside tracker_info). */
  readonly caPath: string;
  readonly endpoints: [Endpoint, Endpoint];
  readonly trackers: [TrackerProcess | null, TrackerProcess | null] = [null, null];
  readonly #options: PairOptions;
  readonly #all: TrackerProcess[] = [];
  readonly #clients: TrackerClient[] = [];

  private constructor(dir: string, options: PairOptions) {
    this.dir = dir;
    this.infoPath = `${dir}/tracker_info.txt`;
    this.keyPath = `${dir}/cluster.key`;
    this.caPath = `${dir}/ca.pem`;
    this.endpoints = options.endpoints ?? [
      { hostname: "127.0.0.1", port: freePort() },
      { hostname: "127.0.0.1", port: freePort() },
    ];
    this.#options = options;
  }

  /** Makes the directory and the tracker_info file; starts nothing. */
  static async create(options: PairOptions = {}): Promise<TrackerPair> {
    const dir = await Deno.makeTempDir({ prefix: options.dirPrefix ?? "shoal-e2e-" });
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

  /** The cluster's CA certificate (PEM), as a tracker wrote it at start. */
  async ca(): Promise<string> {
    return await Deno.readTextFile(this.caPath);
  }

  /** The data directory of tracker `n`. */
  dataDir(n: 1 | 2): string {
    return `${this.dir}/t${n}`;
  }

  /** The running process of tracker `n`; throws when it was never started. */
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
    if (this.trackers[n - 1]?.alive) throw new Error(`tracker ${n} is already running`);
    const o = this.#options;
    const flag = (name: string, ms: number | null) => ms === null ? [] : [name, String(ms)];
    const t = new TrackerProcess(n, [
      "tracker",
      this.infoPath,
      String(n),
      "--data-dir",
      this.dataDir(n),
      "--cluster-key",
      this.keyPath,
      ...flag("--heartbeat", o.heartbeatMs === undefined ? HEARTBEAT_MS : o.heartbeatMs),
      ...flag("--grace", o.graceMs === undefined ? GRACE_MS : o.graceMs),
      ...(o.trackerArgs ?? []),
    ], { prefix: o.prefix, denoFlags: o.denoFlags, env: o.env });
    this.trackers[n - 1] = t;
    this.#all.push(t);
    if (expect === "primary") await t.waitPrimary();
    if (expect === "secondary") await t.waitCaughtUp();
    return t;
  }

  /** Kills tracker `n` (SIGKILL by default, sent at once) and waits for it to exit. */
  async kill(n: 1 | 2, signal: Deno.Signal = "SIGKILL"): Promise<Deno.CommandStatus> {
    return await this.tracker(n).kill(signal);
  }

  /** A failover client for this pair (trusting its ca.pem), closed with the pair. */
  client(options: Partial<TrackerClientOptions> = {}): TrackerClient {
    const ca = Deno.readTextFileSync(this.caPath);
    const c = new TrackerClient({ trackers: this.endpoints, ca, ...options });
    this.#clients.push(c);
    return c;
  }

  /** Runs a peer shell with `lines` on stdin against this pair. */
  async peer(lines: string[], options: ShellOptions = {}): Promise<PeerRun> {
    return await runPeer(this.infoPath, lines, { stateDir: this.#peerDir(), ...options });
  }

  /** Starts an interactive peer shell against this pair. */
  async shell(options: ShellOptions = {}): Promise<PeerShell> {
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
