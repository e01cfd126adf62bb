/**
 * The peer role's entry point: picks the state directory, sets up logging,
 * and runs the shell on stdin against the tracker pair.
 */
import { envLogLevel, PEER_LOG_LEVEL, setupLogging } from "../shared/log.ts";
import { type Endpoint, formatEndpoint } from "../shared/tracker_info.ts";
import { SessionStore } from "./store/session_store.ts";
import { runShell } from "./shell/shell.ts";
import { type Ctx, resumeSession } from "./commands/mod.ts";
import { startWebServer, type WebServer } from "./web/mod.ts";
import { isLoopback } from "../shared/http_option.ts";
import { TrackerClient } from "./tracker_client/tracker_client.ts";
import { FileService } from "./shares/file_service.ts";
import { defaultWorkers } from "./download/worker_pool.ts";
import { TrackerWatch } from "./tracker_client/tracker_watch.ts";
import { PeerIdentity } from "./tracker_client/identity.ts";

/** Options for {@linkcode runPeer}. */
export interface PeerOptions {
  /** This peer's own address, announced to the tracker at login. */
  addr: Endpoint;
  /** Tracker 1 and tracker 2, from tracker_info. */
  trackers: [Endpoint, Endpoint];
  /** The cluster CA's certificate (PEM), which every tracker and peer certificate must chain to. */
  ca: string;
  /** Where the peer keeps its state; default `$HOME/.shoal/peer-<ip>_<port>`. */
  stateDir?: string;
  /** Transfer workers; default twice the number of cores. */
  workers?: number;
  /** Keepalive interval with the trackers (ms); default 1000. */
  keepaliveMs?: number;
  /** Where the web UI and JSON API listen; default 127.0.0.1 on a port the OS picks; null: none. */
  http?: Endpoint | null;
}

/** Runs a peer until its shell ends; returns the process exit code. */
export async function runPeer(options: PeerOptions): Promise<number> {
  await setupLogging(envLogLevel(PEER_LOG_LEVEL));
  const stateDir = options.stateDir ?? defaultStateDir(options.addr);
  await Deno.mkdir(stateDir, { recursive: true, mode: 0o700 });
  const client = new TrackerClient({ trackers: options.trackers, ca: options.ca });
  // One key pair per process; the trackers certify it at login.
  const identity = await PeerIdentity.create({ ca: options.ca, client });
  const output = (line: string) => writeStdout(`${line}\n`);
  let web: WebServer | null = null;
  /** What the peer tells the user unasked goes to the page too. */
  const notify = (line: string) => {
    output(line);
    web?.events.notice(line);
  };
  const files = new FileService({
    addr: options.addr,
    stateDir,
    client,
    identity,
    workers: options.workers ?? defaultWorkers(),
    notify,
  });
  try {
    await files.listen();
  } catch (err) {
    await files.close();
    await client.close();
    throw err;
  }
  // Keeps the session online at the trackers and brings revocations to the piece server.
  const watch = new TrackerWatch({
    client,
    intervalMs: options.keepaliveMs,
    revoked: (news) => files.server?.revoke(news),
  });
  /** The one shutdown (quit, end of input or a signal): offers set aside at the trackers, then everything closes. */
  let stopping: Promise<void> | null = null;
  const stop = () =>
    stopping ??= (async () => {
      await web?.close();
      watch.stop();
      identity.close();
      await files.away();
      await files.close();
      await client.close();
    })();
  /** The exit code of the signal that stopped the peer, if one did. */
  let signalCode: number | null = null;
  const onSignal = (code: number) => () => {
    // A second signal while stopping ends the process at once.
    if (signalCode !== null) Deno.exit(code);
    signalCode = code;
    stop().finally(() => Deno.exit(code));
  };
  const signals: [Deno.Signal, () => void][] = [
    ["SIGINT", onSignal(130)],
    ["SIGTERM", onSignal(143)],
  ];
  for (const [signal, handler] of signals) {
    try {
      Deno.addSignalListener(signal, handler);
    } catch {
      // Not every platform has every signal (Windows has no SIGTERM).
    }
  }
  // One session for the shell and the web API: a login on either is the peer's.
  const ctx: Ctx = {
    files,
    output: notify,
    client,
    identity,
    addr: formatEndpoint(options.addr),
    store: new SessionStore(stateDir),
    user: null,
  };
  try {
    await resumeSession(ctx);
    const http = options.http === undefined ? { hostname: "127.0.0.1", port: 0 } : options.http;
    if (http !== null) {
      web = await startWebServer({ hostname: http.hostname, port: http.port, ctx });
      // On stderr, as Jupyter does: stdout carries the shell's answers only.
      writeStderr(`web UI: ${web.url}\n`);
      if (!isLoopback(http.hostname)) {
        writeStderr(`warning: the web UI listens on ${http.hostname}, not only on this machine\n`);
      }
    }
    await runShell({
      ...ctx,
      input: Deno.stdin.readable,
      output,
      prompt: writeStdout,
      interactive: Deno.stdin.isTerminal(),
      terminal: Deno.stdout.isTerminal(),
      columns: () => {
        try {
          return Deno.consoleSize().columns;
        } catch {
          return 80;
        }
      },
    }, ctx);
  } finally {
    // Also when a signal began the stop and the input then ended: wait for it to finish.
    await stop();
    for (const [signal, handler] of signals) {
      try {
        Deno.removeSignalListener(signal, handler);
      } catch { /* never added */ }
    }
  }
  return signalCode ?? 0;
}

/** The default state directory of the peer at `addr`. */
export function defaultStateDir(addr: Endpoint): string {
  const home = Deno.env.get("HOME") ?? Deno.cwd();
  const host = addr.hostname.replace(/[^A-Za-z0-9.-]/g, "-");
  return `${home}/.shoal/peer-${host}_${addr.port}`;
}

const encoder = new TextEncoder();

function writeStdout(text: string): void {
  writeAll(Deno.stdout, text);
}

function writeStderr(text: string): void {
  writeAll(Deno.stderr, text);
}

function writeAll(to: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text);
  try {
    for (let off = 0; off < bytes.length;) off += to.writeSync(bytes.subarray(off));
  } catch { /* closed: nothing sensible to do */ }
}
