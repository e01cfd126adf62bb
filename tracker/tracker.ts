/** `shoal tracker`: starts one tracker of the pair with its console. */
import { TlsListener } from "../shared/tls/tls_listener.ts";
import { ConfigError } from "../shared/errors.ts";
import { envLogLevel, log, setupLogging } from "../shared/log.ts";
import { formatEndpoint, readTrackerInfo } from "../shared/tracker_info.ts";
import { deriveCa } from "../shared/tls/ca.ts";
import { caPathFor, writeCa } from "../shared/tls/ca_file.ts";
import { importClusterKey, loadClusterKeyBytes } from "./replication/cluster_key.ts";
import { ClientRequests } from "./server/client_requests.ts";
import { runConsole } from "./server/console.ts";
import { TrackerNode } from "./replication/node.ts";
import { TrackerServer } from "./server/server.ts";
import { trackerIdentity } from "./server/tracker_cert.ts";
import { Store } from "./store/store.ts";
import { Presence } from "./server/presence.ts";
import type { NodeObserver } from "./replication/replica.ts";
import {
  startStatusServer,
  type StatusServer,
  TrackerMetrics,
  type TrackerStatus,
} from "./server/status_http.ts";
import type { Endpoint } from "../shared/tracker_info.ts";

const logger = log("tracker");

/** Options of `shoal tracker`. */
export interface TrackerOptions {
  trackerInfo: string;
  n: 1 | 2;
  dataDir?: string;
  clusterKey?: string;
  heartbeatMs?: number;
  graceMs?: number;
  /** Where to serve the status page and /metrics; none when not given. */
  http?: Endpoint;
}

/** The default data folder of tracker `n`. */
export function defaultDataDir(n: number): string {
  const home = Deno.env.get("HOME") ?? ".";
  return `${home}/.shoal/tracker${n}`;
}

/** A running tracker. */
export interface RunningTracker {
  node: TrackerNode;
  server: TrackerServer;
  presence: Presence;
  /** The status page's address, with `http`. */
  statusOrigin?: string;
  stop(): Promise<void>;
}

/** Starts a tracker: storage, listener, link to the other tracker. */
export async function startTracker(opts: TrackerOptions): Promise<RunningTracker> {
  const trackers = await readTrackerInfo(opts.trackerInfo);
  const me = trackers[opts.n - 1]!;
  const dataDir = opts.dataDir ?? defaultDataDir(opts.n);
  await Deno.mkdir(dataDir, { recursive: true });
  const keyPath = opts.clusterKey ?? `${dataDir}/../cluster.key`;
  const keyBytes = await loadClusterKeyBytes(keyPath);
  const key = await importClusterKey(keyBytes);
  const ca = await deriveCa(keyBytes);
  await writeCa(caPathFor(opts.trackerInfo), ca.certPem);
  const identity = await trackerIdentity(ca, { n: opts.n, ip: me.hostname });
  let listener: TlsListener;
  try {
    listener = await TlsListener.listen({
      hostname: me.hostname,
      port: me.port,
      ...identity,
      clientCa: ca.certPem,
    });
  } catch (err) {
    throw new ConfigError(`Cannot listen on ${formatEndpoint(me)}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const store = new Store(`${dataDir}/tracker.db`);
  // Reads the node's state through the node: a snapshot adopted later replaces it.
  const presence = new Presence(() => node.state, () => performance.now());
  let failovers = 0;
  // Presence observes the node; failovers are counted on the way.
  const observer: NodeObserver = {
    applied: (entry, result) => presence.applied(entry, result),
    reset: (state) => presence.reset(state),
    promoted: () => {
      failovers++;
      presence.promoted();
    },
    demoted: () => presence.demoted(),
    online: (session) => presence.online(session),
  };
  const node: TrackerNode = new TrackerNode({
    n: opts.n,
    trackers,
    store,
    key,
    ca,
    identity,
    heartbeatMs: opts.heartbeatMs ?? 1000,
    graceMs: opts.graceMs ?? 1000,
    observer,
    requests: (ctx) => new ClientRequests(ctx),
  });
  presence.reset(node.state);
  const server = new TrackerServer(listener, node, key, presence);
  let status: StatusServer | null = null;
  if (opts.http) {
    const read = (): TrackerStatus => trackerStatus({ node, server, presence, store, failovers });
    const metrics = new TrackerMetrics(read);
    server.onAnswered = (cmd, ms, ok) => metrics.answered(cmd, ms, ok);
    try {
      status = await startStatusServer(opts.http, { status: read, metrics });
    } catch (err) {
      await server.close();
      store.close();
      throw new ConfigError(
        `Cannot serve the status page on ${formatEndpoint(opts.http)}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    logger.info("Status page and /metrics on {origin}", { origin: status.origin });
  }
  node.start();
  logger.info("Tracker {n} listening on {addr}, data in {dir}", {
    n: opts.n,
    addr: formatEndpoint(me),
    dir: dataDir,
  });
  let stopped: Promise<void> | null = null;
  return {
    node,
    server,
    presence,
    statusOrigin: status?.origin,
    stop() {
      stopped ??= (async () => {
        await status?.close();
        await server.close();
        await node.stop();
        store.close();
      })();
      return stopped;
    },
  };
}

/** Runs `shoal tracker` until `quit`, SIGINT or SIGTERM; returns the exit code. */
export async function runTracker(opts: TrackerOptions): Promise<number> {
  await setupLogging(envLogLevel("info"));
  const t = await startTracker(opts);
  const done = Promise.withResolvers<void>();
  const onSignal = () => done.resolve();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  runConsole(t, () => done.resolve());
  await done.promise;
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  await t.stop();
  logger.info("Tracker {n} stopped", { n: opts.n });
  return 0;
}

/** What the status page and /metrics show, read from the running parts. */
function trackerStatus(t: {
  node: TrackerNode;
  server: TrackerServer;
  presence: Presence;
  store: Store;
  failovers: number;
}): TrackerStatus {
  const s = t.node.status();
  const state = t.node.state;
  const first = t.store.firstIndex();
  return {
    ...s,
    lag: s.other.connected ? s.index - s.other.index : null,
    peersOnline: t.presence.onlineCount(),
    connections: t.server.connections,
    users: state.users.size,
    groups: state.groups.size,
    files: state.files.size,
    opLog: first === 0 ? 0 : s.index - first + 1,
    failovers: t.failovers,
  };
}
