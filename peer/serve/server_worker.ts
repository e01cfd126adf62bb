/**
 * A piece-server worker (Web Worker): piece reads and sends run off the main
 * thread. With more than one worker, each listens on the peer's address with
 * SO_REUSEPORT and the kernel spreads incoming connections over them. The main thread
 * keeps each worker's copy of the served-files registry up to date; the
 * bitfields of downloads in progress are shared memory, so a verified piece is
 * servable the moment it is recorded. The first worker also hosts file
 * verification on the port it is given at start ({@link hostVerify}, from
 * peer/verify): a thread shared to save an isolate, its code and messages apart.
 */
/// <reference lib="deno.worker" />
import { describeError } from "../../shared/errors.ts";
import { envLogLevel, log, PEER_LOG_LEVEL, setupLogging } from "../../shared/log.ts";
import { importVerifyKey } from "../../shared/grant.ts";
import { PieceServer } from "./piece_server.ts";
import { PieceListener } from "./piece_listener.ts";
import { isUnchanged, type ServedFile, ServedFiles } from "./served_files.ts";
import type { ServerCommand, ServerEvent } from "./server_protocol.ts";
import { hostVerify } from "../verify/verify_host.ts";

// A worker has its own logger configuration: without this its warnings would go nowhere.
await setupLogging(envLogLevel(PEER_LOG_LEVEL));

const files = new ServedFiles();
let key: CryptoKey | null = null;
const logger = log("peer", "server");

let server: PieceServer | null = null;
let listener: PieceListener | null = null;

function post(e: ServerEvent): void {
  self.postMessage(e);
}

async function unchanged(f: ServedFile): Promise<boolean> {
  if (await isUnchanged(f)) return true;
  post({ type: "changed", group: f.meta.group, name: f.meta.name });
  return false;
}

/** How often the worker's counters go to the main thread (only when they changed). */
const STATS_MS = 1000;
let statsTimer: ReturnType<typeof setInterval> | undefined;

function reportStats(): void {
  let last = "";
  statsTimer = setInterval(() => {
    if (!server) return;
    const s = server.stats;
    const now = `${s.bytesSent} ${s.connections}`;
    if (now === last) return;
    last = now;
    post({ type: "stats", ...s });
  }, STATS_MS);
}

self.onmessage = async (ev: MessageEvent<ServerCommand>) => {
  const m = ev.data;
  switch (m.type) {
    case "listen":
      if (m.verifyPort) hostVerify(m.verifyPort);
      try {
        listener = await PieceListener.listen({
          hostname: m.hostname,
          port: m.port,
          reusePort: m.reusePort,
          ca: m.ca,
        });
        server = new PieceServer(listener, {
          files,
          grantKey: () => key,
          checkUnchanged: unchanged,
          uploadSlots: m.uploadSlots,
        });
        post({ type: "listening" });
        reportStats();
      } catch (err) {
        post({ type: "error", error: describeError(err) });
      }
      break;
    case "identity":
      listener?.setIdentity(m.identity);
      break;
    case "set":
      files.set(m.file);
      break;
    case "delete":
      files.delete(m.group, m.name);
      server?.dropFile(m.group, m.name);
      break;
    case "key":
      if (m.spki === null) server?.dropAll();
      try {
        key = m.spki === null ? null : await importVerifyKey(m.spki);
      } catch (err) {
        // A key that does not import verifies nothing: every request is refused until a good one.
        logger.warn("The trackers' grant key is unusable: {error}", { error: describeError(err) });
        server?.dropAll();
        key = null;
      }
      break;
    case "revoke":
      server?.revoke(m.news);
      break;
    case "close":
      clearInterval(statsTimer);
      await server?.close();
      post({ type: "closed" });
      break;
  }
};
