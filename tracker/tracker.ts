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

const logger = log("tracker");

/** Options of `shoal tracker`. */
export interface TrackerOptions {
  trackerInfo: string;
  n: 1 | 2;
  dataDir?: string;
  clusterKey?: string;
  heartbeatMs?: number;
  graceMs?: number;
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
  const node: TrackerNode = new TrackerNode({
    n: opts.n,
    trackers,
    store,
    key,
    ca,
    identity,
    heartbeatMs: opts.heartbeatMs ?? 1000,
    graceMs: opts.graceMs ?? 1000,
    observer: presence,
    requests: (ctx) => new ClientRequests(ctx),
  });
  presence.reset(node.state);
  const server = new TrackerServer(listener, node, key, presence);
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
    stop() {
      stopped ??= (async () => {
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
