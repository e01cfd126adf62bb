/**
 * Test support for the replicated tracker pair: two trackers on loopback with
 * OS-chosen ports, temporary data folders and a shared cluster key, and a raw
 * client speaking shoal's codec.
 */
import { TlsListener } from "../../shared/tls/tls_listener.ts";
import { freePort } from "../../tests/harness/ports.ts";
import assert from "node:assert/strict";
import { FramedConn } from "../../shared/conn.ts";
import { MAX_CONTROL_FRAME } from "../../shared/constants.ts";
import type { Frame, Message } from "../../shared/frame.ts";
import type { Endpoint } from "../../shared/tracker_info.ts";
import { type ClusterCa, deriveCa } from "../../shared/tls/ca.ts";
import { keyIdOf } from "../../shared/tls/cert_info.ts";
import { newKeyPair } from "../../shared/tls/keys.ts";
import { importClusterKey, loadClusterKeyBytes } from "./cluster_key.ts";
import { type NodeObserver, TrackerNode } from "./node.ts";
import { ClientRequests } from "../server/client_requests.ts";
import { TrackerServer } from "../server/server.ts";
import { trackerIdentity } from "../server/tracker_cert.ts";
import { Presence } from "../server/presence.ts";
import { Store } from "../store/store.ts";
import { type RunningTracker, startTracker } from "../tracker.ts";

/** Heartbeat interval of test trackers. */
export const HEARTBEAT_MS = 100;
/** Grace period of test trackers. */
export const GRACE_MS = 300;
/** How long a test waits for a condition before it fails. */
export const WAIT_MS = 10_000;

/** The identity key test clients log in with (`pubkey` at login). */
export const IDENTITY = await newKeyPair();
/** Its SHA-256, the `id` a lookup_file sends. */
export const IDENTITY_ID = await keyIdOf(IDENTITY.spki);

/** A loopback port that was free a moment ago. */
export { freePort };

/** Polls `cond` until it holds; fails with `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  cond: () => boolean,
  timeoutMs = WAIT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A running test tracker, with its store when the test built it by hand. */
export interface TestTracker extends RunningTracker {
  dataDir: string;
  store?: Store;
}

/** The link timing of a cluster's trackers. */
export interface ClusterTiming {
  heartbeatMs: number;
  graceMs: number;
}

/** Two trackers' configuration in a temporary folder; trackers start on demand. */
export class Cluster {
  readonly dir: string;
  readonly endpoints: [Endpoint, Endpoint];
  readonly trackers: (TestTracker | undefined)[] = [undefined, undefined];
  readonly timing: ClusterTiming;
  /** The cluster CA, derived from the cluster key as the trackers derive it. */
  readonly ca: ClusterCa;

  private constructor(
    dir: string,
    endpoints: [Endpoint, Endpoint],
    timing: ClusterTiming,
    ca: ClusterCa,
  ) {
    this.dir = dir;
    this.endpoints = endpoints;
    this.timing = timing;
    this.ca = ca;
  }

  /** The CA certificate (PEM) a client trusts to reach these trackers. */
  get caPem(): string {
    return this.ca.certPem;
  }

  /**
   * Writes tracker_info and the cluster key into a fresh temporary folder.
   * Trackers use {@linkcode HEARTBEAT_MS} and {@linkcode GRACE_MS} unless
   * `timing` says otherwise.
   */
  static async create(
    timing: ClusterTiming = { heartbeatMs: HEARTBEAT_MS, graceMs: GRACE_MS },
  ): Promise<Cluster> {
    const dir = await Deno.makeTempDir({ prefix: "shoal_node_test_" });
    const endpoints: [Endpoint, Endpoint] = [
      { hostname: "127.0.0.1", port: freePort() },
      { hostname: "127.0.0.1", port: freePort() },
    ];
    await Deno.writeTextFile(
      `${dir}/tracker_info`,
      endpoints.map((e) => `${e.hostname}:${e.port}\n`).join(""),
    );
    const ca = await deriveCa(await loadClusterKeyBytes(`${dir}/cluster.key`));
    return new Cluster(dir, endpoints, timing, ca);
  }

  /** The data folder of tracker `n`. */
  dataDir(n: 1 | 2): string {
    return `${this.dir}/tracker${n}`;
  }

  /** Tracker `n` (which must be running). */
  tracker(n: 1 | 2): TestTracker {
    const t = this.trackers[n - 1];
    assert.ok(t, `tracker ${n} is not running`);
    return t;
  }

  /** Starts tracker `n` with `startTracker()`. */
  async start(n: 1 | 2): Promise<TestTracker> {
    const dataDir = this.dataDir(n);
    const t = await startTracker({
      trackerInfo: `${this.dir}/tracker_info`,
      n,
      dataDir,
      clusterKey: `${this.dir}/cluster.key`,
      ...this.timing,
    });
    this.trackers[n - 1] = { ...t, dataDir };
    return this.trackers[n - 1]!;
  }

  /**
   * Starts tracker `n` as `startTracker()` does, but with store options and,
   * optionally, another idea of where the trackers are (to cut it off) and
   * an observer of what it applies (missing methods do nothing).
   */
  async startWithStore(
    n: 1 | 2,
    storeOptions: { snapshotEvery?: number; keepLog?: number },
    trackers: [Endpoint, Endpoint] = this.endpoints,
    observer?: Partial<NodeObserver>,
  ): Promise<TestTracker> {
    const dataDir = this.dataDir(n);
    await Deno.mkdir(dataDir, { recursive: true });
    const key = await importClusterKey(await loadClusterKeyBytes(`${this.dir}/cluster.key`));
    const me = this.endpoints[n - 1]!;
    const identity = await trackerIdentity(this.ca, { n, ip: me.hostname });
    const listener = await TlsListener.listen({ ...me, ...identity });
    const store = new Store(`${dataDir}/tracker.db`, storeOptions);
    const presence = new Presence(() => node.state, () => performance.now());
    const node: TrackerNode = new TrackerNode({
      n,
      trackers,
      store,
      key,
      ca: this.ca,
      ...this.timing,
      observer: observer
        ? {
          applied: (e, r) => presence.applied(e, r),
          reset: (st) => presence.reset(st),
          promoted: () => presence.promoted(),
          demoted: () => presence.demoted(),
          online: (session) => presence.online(session),
          ...observer,
        }
        : presence,
      requests: (ctx) => new ClientRequests(ctx),
    });
    presence.reset(node.state);
    const server = new TrackerServer(listener, node, key, presence);
    node.start();
    let stopped: Promise<void> | null = null;
    const stop = () =>
      stopped ??= (async () => {
        await server.close();
        await node.stop();
        store.close();
      })();
    this.trackers[n - 1] = { node, server, presence, stop, dataDir, store };
    return this.trackers[n - 1]!;
  }

  /** Stops tracker `n` if it runs. */
  async stop(n: 1 | 2): Promise<void> {
    const t = this.trackers[n - 1];
    this.trackers[n - 1] = undefined;
    await t?.stop();
  }

  /** Stops both trackers and removes the folder. */
  async close(): Promise<void> {
    try {
      await this.stop(1);
      await this.stop(2);
      // Let connection tasks the trackers do not await see their sockets close.
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      await Deno.remove(this.dir, { recursive: true });
    }
  }

  /** Waits until tracker `primary` leads and the other follows it live. */
  async settled(primary: 1 | 2): Promise<void> {
    const secondary = primary === 1 ? 2 : 1;
    await waitFor(
      `tracker ${primary} primary with tracker ${secondary} live`,
      () => this.#leads(primary),
    );
  }

  /** Waits until either tracker leads with the other following live; returns the primary. */
  async settledAny(): Promise<1 | 2> {
    await waitFor("one primary with a live secondary", () => this.#leads(1) || this.#leads(2));
    return this.#leads(1) ? 1 : 2;
  }

  #leads(primary: 1 | 2): boolean {
    const p = this.trackers[primary - 1]?.node.status();
    const s = this.trackers[2 - primary]?.node.status();
    if (!p || !s) return false;
    const po = p.other as { live?: boolean };
    const so = s.other as { live?: boolean };
    return p.role === "primary" && s.role === "secondary" && po.live === true &&
      so.live === true && s.catchingUp === false && s.index === p.index;
  }
}

/** Runs `fn` against tracker 1 alone as primary, with a client connected to it. */
export async function withPrimary(
  fn: (c: Cluster, client: Client) => Promise<void>,
): Promise<void> {
  const c = await Cluster.create();
  try {
    const t1 = await c.start(1);
    await waitFor("tracker 1 primary", () => t1.node.role === "primary");
    const client = await Client.connect(c.endpoints[0], c.caPem);
    try {
      await fn(c, client);
    } finally {
      await client.close();
    }
  } finally {
    await c.close();
  }
}

/** A client connection speaking `{t:"req"}` / `{t:"res"}` over shoal's codec. */
export class Client {
  readonly #conn: FramedConn;
  readonly #frames: AsyncGenerator<Frame>;
  readonly #clientId = crypto.randomUUID();
  #seq = 0;

  private constructor(conn: FramedConn) {
    this.#conn = conn;
    this.#frames = conn.frames();
  }

  /** Connects to a tracker over TLS, trusting `caPem`. */
  static async connect(to: Endpoint, caPem: string): Promise<Client> {
    return new Client(
      await FramedConn.connect(to, { maxFrame: MAX_CONTROL_FRAME, tls: { caCerts: [caPem] } }),
    );
  }

  /** Sends one request (with a fresh id unless `id` is given) and returns its response. */
  async request(
    cmd: string,
    args: Record<string, unknown> = {},
    token?: string,
    id = `${this.#clientId}-${++this.#seq}`,
  ): Promise<Message> {
    const msg: Message = { t: "req", id, cmd, args };
    if (token !== undefined) msg.token = token;
    await this.#conn.send(msg);
    const r = await this.#frames.next();
    if (r.done || r.value.kind !== "json") assert.fail(`no response to ${cmd}`);
    assert.equal(r.value.msg.id, id);
    return r.value.msg;
  }

  /** Creates `user` (password `pw`) and logs in from `addr` with {@linkcode IDENTITY}; returns the token. */
  async signUp(user: string, addr: string): Promise<string> {
    await this.ok("create_user", { user, password: "pw" });
    const { token } = await this.ok("login", {
      user,
      password: "pw",
      addr,
      pubkey: IDENTITY.spki,
    });
    return token as string;
  }

  /** Sends a request that must succeed; returns its data. */
  async ok(cmd: string, args: Record<string, unknown> = {}, token?: string) {
    const res = await this.request(cmd, args, token);
    assert.equal(res.ok, true, `${cmd} failed: ${res.error}`);
    return res.data as Record<string, unknown>;
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    this.#conn.close();
    await this.#frames.return(undefined);
  }
}

/**
 * A TCP forwarder to `target` that can be shut: while closed it accepts and
 * drops every connection, so a network partition can be made and healed.
 */
export class Gate {
  open = false;
  readonly #listener: Deno.TcpListener;
  readonly #conns = new Set<Deno.Conn>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #done: Promise<void>;

  constructor(target: Endpoint) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#done = this.#accept(target);
  }

  /** Where to connect to reach the target through the gate. */
  get endpoint(): Endpoint {
    return { hostname: "127.0.0.1", port: this.#listener.addr.port };
  }

  /** Stops forwarding and closes every forwarded connection. */
  async close(): Promise<void> {
    this.#listener.close();
    for (const c of this.#conns) closeQuietly(c);
    await this.#done;
    await Promise.all(this.#tasks);
  }

  async #accept(target: Endpoint): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        if (!this.open) {
          conn.close();
          continue;
        }
        const task = this.#forward(conn, target);
        this.#tasks.add(task);
        task.finally(() => this.#tasks.delete(task));
      }
    } catch { /* listener closed */ }
  }

  async #forward(a: Deno.Conn, target: Endpoint): Promise<void> {
    this.#conns.add(a);
    let b: Deno.Conn;
    try {
      b = await Deno.connect(target);
    } catch {
      this.#conns.delete(a);
      closeQuietly(a);
      return;
    }
    this.#conns.add(b);
    await Promise.all([copy(a, b), copy(b, a)]);
    this.#conns.delete(a);
    this.#conns.delete(b);
  }
}

async function copy(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await from.read(buf);
      if (n === null) break;
      for (let off = 0; off < n;) off += await to.write(buf.subarray(off, n));
    }
  } catch { /* either side closed */ }
  closeQuietly(from);
  closeQuietly(to);
}

function closeQuietly(c: Deno.Conn): void {
  try {
    c.close();
  } catch { /* already closed */ }
}
