/**
 * shoal: group-based peer-to-peer file sharing.
 *
 *   shoal tracker <tracker_info> <n> [options]
 *   shoal peer <ip>:<port> <tracker_info> [options]
 *
 * Parses arguments and hands over to tracker/ or peer/; no logic lives here.
 */
import { parseArgs } from "node:util";
import { MAX_KEEPALIVE_MS, MIN_KEEPALIVE_MS, VERSION } from "./shared/constants.ts";
import { describeError } from "./shared/errors.ts";
import { retainFreedMemory } from "./shared/memory.ts";
import { parseEndpoint, readTrackerInfo } from "./shared/tracker_info.ts";
import { parseHttpOption } from "./shared/http_option.ts";
import { caPathFor, readCa } from "./shared/tls/ca_file.ts";

const USAGE = `usage: shoal tracker <tracker_info> <n> [options]
       shoal peer <ip>:<port> <tracker_info> [options]
       shoal --version

Run 'shoal tracker --help' or 'shoal peer --help' for the options of each role.`;

const TRACKER_USAGE = `usage: shoal tracker <tracker_info> <n> [options]

Starts tracker <n> (1 or 2) of the pair listed in <tracker_info> (one tracker
per line, 'ip:port' or 'ip port'; '#' comments). Console on stdin: status,
promote, quit.

options:
  --data-dir <dir>       where this tracker keeps its state (default ~/.shoal/tracker<n>)
  --cluster-key <file>   shared secret of the pair, created if missing
                         (default <data-dir>/../cluster.key)
  --heartbeat <ms>       heartbeat interval on the tracker link (default 1000)
  --grace <ms>           how long a secondary waits for a lost primary (default 1000)
  --http <addr>          serve a status page and /metrics on ip:port or a port (on
                         127.0.0.1); off by default
  -h, --help             show this help`;

const PEER_USAGE = `usage: shoal peer <ip>:<port> <tracker_info> [options]

Starts a peer that serves pieces on <ip>:<port> and opens the shell (commands on
stdin, one per line; type 'help').

options:
  --state-dir <dir>      where this peer keeps its state (default ~/.shoal/peer-<ip>_<port>)
  --ca <file>            the cluster's CA certificate (default ca.pem beside <tracker_info>)
  --workers <n>          transfer workers (default 2 x the number of cores)
  --keepalive <ms>       keepalive interval with the trackers; silent for 3 intervals
                         means offline (default 1000)
  --http <addr>          the web UI and JSON API: ip:port, a port (on 127.0.0.1), or off
                         (default 127.0.0.1 on a port the OS picks; its URL is printed)
  -h, --help             show this help`;

class UsageError extends Error {}

function intOption(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 10 || n > 600_000) {
    throw new UsageError(`--${name} must be a whole number of milliseconds from 10 to 600000`);
  }
  return n;
}

function httpOption(v: string | undefined, usage: string) {
  if (v === undefined) return null;
  try {
    return parseHttpOption(v);
  } catch (err) {
    throw new UsageError(`${describeError(err)}\n${usage}`);
  }
}

async function tracker(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      "data-dir": { type: "string" },
      "cluster-key": { type: "string" },
      heartbeat: { type: "string" },
      grace: { type: "string" },
      http: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(TRACKER_USAGE);
    return 0;
  }
  if (positionals.length !== 2) throw new UsageError(TRACKER_USAGE);
  const [info, nText] = positionals as [string, string];
  if (nText !== "1" && nText !== "2") throw new UsageError(`<n> must be 1 or 2\n${TRACKER_USAGE}`);
  // Each role loads only its own modules (a peer does not carry the tracker's, nor the reverse).
  const { runTracker } = await import("./tracker/tracker.ts");
  return await runTracker({
    trackerInfo: info,
    n: nText === "1" ? 1 : 2,
    dataDir: values["data-dir"],
    clusterKey: values["cluster-key"],
    heartbeatMs: intOption(values.heartbeat, "heartbeat"),
    graceMs: intOption(values.grace, "grace"),
    http: httpOption(values.http, TRACKER_USAGE) ?? undefined,
  });
}

async function peer(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      "state-dir": { type: "string" },
      ca: { type: "string" },
      workers: { type: "string" },
      keepalive: { type: "string" },
      http: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(PEER_USAGE);
    return 0;
  }
  if (positionals.length !== 2) throw new UsageError(PEER_USAGE);
  let addr;
  try {
    addr = parseEndpoint(positionals[0]!);
  } catch (err) {
    throw new UsageError(`${describeError(err)}\n${PEER_USAGE}`);
  }
  const trackers = await readTrackerInfo(positionals[1]!);
  let workers: number | undefined;
  if (values.workers !== undefined) {
    workers = Number(values.workers);
    if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
      throw new UsageError(`--workers must be a whole number from 1 to 64\n${PEER_USAGE}`);
    }
  }
  const { runPeer } = await import("./peer/peer.ts");
  let keepaliveMs: number | undefined;
  if (values.keepalive !== undefined) {
    keepaliveMs = Number(values.keepalive);
    if (
      !Number.isInteger(keepaliveMs) || keepaliveMs < MIN_KEEPALIVE_MS ||
      keepaliveMs > MAX_KEEPALIVE_MS
    ) {
      throw new UsageError(
        `--keepalive must be a whole number of milliseconds from ${MIN_KEEPALIVE_MS} to ${MAX_KEEPALIVE_MS}\n${PEER_USAGE}`,
      );
    }
  }
  // No CA, no peer: it refuses to start rather than trust the first tracker it meets.
  const ca = await readCa(values.ca ?? caPathFor(positionals[1]!));
  const http = values.http === undefined ? undefined : httpOption(values.http, PEER_USAGE);
  return await runPeer({
    addr,
    trackers,
    ca,
    stateDir: values["state-dir"],
    workers,
    keepaliveMs,
    http,
  });
}

/** Runs the command line; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [role, ...rest] = args;
  try {
    if (role === "--version" || role === "-V") {
      console.log(`shoal ${VERSION}`);
      return 0;
    }
    if (role === "--help" || role === "-h") {
      console.log(USAGE);
      return 0;
    }
    if (role === "tracker") return await tracker(rest);
    if (role === "peer") return await peer(rest);
    throw new UsageError(USAGE);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(err.message);
      return 2;
    }
    if (
      (err as Error)?.name === "TypeError" &&
      (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")
    ) {
      console.error(
        `error: ${describeError(err)}\n${
          role === "tracker" ? TRACKER_USAGE : role === "peer" ? PEER_USAGE : USAGE
        }`,
      );
      return 2;
    }
    console.error(`error: ${describeError(err)}`);
    return 1;
  }
}

if (import.meta.main) {
  retainFreedMemory();
  Deno.exit(await main(Deno.args));
}
