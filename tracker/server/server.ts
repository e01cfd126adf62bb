/**
 * The tracker's listener: every connection is either a client (requests in,
 * responses out, pipelined) or, when its first message is `link_hello`, the
 * other tracker. Bad input closes that connection with an error message; it
 * never affects other connections.
 */
import { FramedConn } from "../../shared/conn.ts";
import { MAX_CONTROL_FRAME } from "../../shared/constants.ts";
import { describeError } from "../../shared/errors.ts";
import type { Message } from "../../shared/frame.ts";
import { log } from "../../shared/log.ts";
import { errorNotice, unexpectedType } from "../../shared/protocol/bad_message.ts";
import { failResponse, okResponse } from "../../shared/protocol/client.ts";
import type { WatchAnswer } from "../../shared/protocol/client_answers.ts";
import type { Request } from "../state/commands.ts";
import { acceptLink, jsonMessages } from "../replication/link.ts";
import type { TrackerNode } from "../replication/node.ts";
import { parseWatchArgs, type Presence } from "./presence.ts";
import { parseRequest } from "./requests.ts";

const logger = log("tracker", "server");

/** Requests one client connection may have in progress before reading pauses. */
export const MAX_IN_FLIGHT = 256;
/**
 * Client connections served at once; more are refused. Each is a file
 * descriptor: the tracker's open-file limit (`ulimit -n`) must be above it
 * for the cap to be what refuses.
 */
export const MAX_CLIENTS = 16_384;

/** Accepted connections, and a way to stop accepting (a `Deno.Listener` is one). */
export type ConnListener = AsyncIterable<Deno.Conn> & { close(): void };

/** Serves clients and the tracker link on `listener` until it closes. */
export class TrackerServer {
  #listener: ConnListener;
  #node: TrackerNode;
  #key: CryptoKey;
  #conns = new Set<FramedConn>();
  #done: Promise<void>;
  #presence: Presence | undefined;

  constructor(listener: ConnListener, node: TrackerNode, key: CryptoKey, presence?: Presence) {
    this.#listener = listener;
    this.#node = node;
    this.#key = key;
    this.#presence = presence;
    this.#done = this.#accept();
  }

  /**
   * Called for each answered client request: its command (as sent, or `?`),
   * its time in ms (a watch's includes the time it was held), and whether
   * it succeeded. For /metrics.
   */
  onAnswered?: (cmd: string, ms: number, ok: boolean) => void;

  /** Number of open connections (clients and the link). */
  get connections(): number {
    return this.#conns.size;
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    try {
      this.#listener.close();
    } catch { /* already closed */ }
    for (const c of this.#conns) c.close();
    await this.#done;
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        if (this.#conns.size >= MAX_CLIENTS) {
          conn.close();
          continue;
        }
        const fc = new FramedConn(conn, { maxFrame: MAX_CONTROL_FRAME });
        this.#conns.add(fc);
        this.#serve(fc).finally(() => this.#conns.delete(fc));
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.BadResource)) {
        logger.error("Listener failed: {error}", { error: describeError(err) });
      }
    }
  }

  async #serve(fc: FramedConn): Promise<void> {
    const messages = jsonMessages(fc);
    let handedOver = false;
    let inFlight = 0;
    /** Sessions that watch on this connection: offline at once when it closes. */
    const watching = new Set<string>();
    let resume: (() => void) | null = null;
    try {
      // Not a for-await loop: leaving one would close the connection, and a
      // tracker link must stay open once it is handed to the node.
      for (let first = true;; first = false) {
        const r = await messages.next();
        if (r.done) break;
        const msg = r.value;
        if (first && msg.t === "link_hello") {
          const link = await acceptLink(fc, messages, msg, this.#node.n, this.#key);
          if (link) {
            handedOver = true;
            this.#node.adoptLink(link);
          } else {
            logger.warn("Rejected a tracker link from {remote}: cluster key check failed", {
              remote: fc.remote,
            });
          }
          return;
        }
        if (msg.t !== "req") {
          await fc.send(errorNotice(unexpectedType(msg.t)));
          continue;
        }
        inFlight++;
        this.#answer(fc, msg, watching).finally(() => {
          inFlight--;
          resume?.();
        });
        if (inFlight >= MAX_IN_FLIGHT) {
          await new Promise<void>((r) => resume = r);
          resume = null;
        }
      }
    } catch (err) {
      logger.warn("Client {remote}: {error}", { remote: fc.remote, error: describeError(err) });
    } finally {
      if (!handedOver) fc.close();
      for (const token of watching) this.#presence?.lost(token);
    }
    const err = fc.error;
    if (err) {
      logger.warn("Closed client {remote}: {error}", { remote: fc.remote, error: err.message });
    }
  }

  async #answer(fc: FramedConn, msg: Message, watching: Set<string>): Promise<void> {
    let res: Message;
    const began = this.onAnswered ? performance.now() : 0;
    try {
      res = await this.#reply(msg, watching);
    } catch (err) {
      logger.error("Request {cmd} failed: {error}", {
        cmd: String(msg.cmd),
        error: describeError(err),
      });
      res = failResponse(typeof msg.id === "string" ? msg.id : null, "internal error");
    }
    this.onAnswered?.(
      typeof msg.cmd === "string" ? msg.cmd : "?",
      performance.now() - began,
      res.ok === true,
    );
    await fc.send(res).catch(() => {});
  }

  async #reply(msg: Message, watching: Set<string>): Promise<Message> {
    const parsed = parseRequest(msg);
    if ("refuse" in parsed) return parsed.refuse;
    const { id, req } = parsed;
    this.#presence?.heard(req.token);
    return req.cmd === "watch" && this.#presence
      ? await this.#watch(msg, id, req, { presence: this.#presence, watching })
      : await this.#node.handleRequest(msg);
  }

  /** A peer's keepalive: checked by the node like any read, then held for revocations. */
  async #watch(
    msg: Message,
    id: string,
    req: Request,
    on: { presence: Presence; watching: Set<string> },
  ): Promise<Message> {
    const parsed = parseWatchArgs(req.args);
    if (typeof parsed === "string") return failResponse(id, parsed);
    const res = await this.#node.handleRequest(msg);
    if (res.ok !== true || req.token === undefined) return res;
    on.watching.add(req.token);
    const answer: WatchAnswer = await on.presence.watch(req.token, parsed);
    return okResponse(id, { ...answer });
  }
}
