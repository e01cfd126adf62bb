/**
 * The peer's client for the tracker pair. It keeps one connection to the
 * tracker it believes is primary, pipelines requests on it, and fails over to
 * the other tracker (re-sending the same request id, so a write applies once)
 * when a connection dies, a request times out or a tracker says it is not the
 * primary, until an overall deadline passes.
 */
import { FramedConn } from "../../shared/conn.ts";
import { MAX_CONTROL_FRAME } from "../../shared/constants.ts";
import { ConnectionError, describeError } from "../../shared/errors.ts";
import type { Frame } from "../../shared/frame.ts";
import { log } from "../../shared/log.ts";
import { BadMessage } from "../../shared/protocol/bad_message.ts";
import {
  type ClientMessage,
  type ClientRequest,
  type ClientResponse,
  decodeClientMessage,
  requestMessage,
} from "../../shared/protocol/client.ts";
import { type Endpoint, formatEndpoint } from "../../shared/tracker_info.ts";

/** How long one attempt of a request may take before its tracker is presumed dead. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 3_000;
/** How long a request keeps failing over between the trackers before it gives up. */
export const DEFAULT_FAILOVER_DEADLINE_MS = 15_000;
const BACKOFF_START_MS = 50;
const BACKOFF_MAX_MS = 200;
/** A tracker that failed to answer this recently is not switched back to on a hint. */
const RECENT_FAILURE_MS = 3000;

const logger = log("peer", "tracker_client");

/** A tracker's answer to a command; `code` is set on protocol-level failures. */
export type TrackerResult =
  | { ok: true; data: Record<string, unknown> }
  | { ok: false; error: string; code?: string };

/** Neither tracker answered a request before the failover deadline. */
export class NoTrackerError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NoTrackerError";
  }
}

/** Options for {@linkcode TrackerClient}. */
export interface TrackerClientOptions {
  /** Tracker 1 and tracker 2, as listed in tracker_info. */
  trackers: [Endpoint, Endpoint];
  /** The cluster CA's certificate (PEM): a tracker's certificate must chain to it. */
  ca: string;
  /** Aborting it closes the client. */
  signal?: AbortSignal;
  /** Time one attempt may take (connect plus answer); default 3 s. */
  requestTimeoutMs?: number;
  /** Time a request may spend failing over before it fails; default 15 s. */
  failoverDeadlineMs?: number;
}

/** What one attempt at one tracker came to: an answer, or a reason to try again. */
type Attempt = { result: TrackerResult } | { retry: string };

/** A failover-aware, pipelining client for the two trackers. */
export class TrackerClient {
  /** The session token sent with every request while set (set it after login). */
  token: string | undefined;
  /** The two trackers, in tracker_info order. */
  readonly trackers: [Endpoint, Endpoint];
  #ca: string;
  #current = 0;
  #failedAt = [0, 0];
  #links: [Promise<TrackerLink> | null, Promise<TrackerLink> | null] = [null, null];
  #clientId = randomHex(8);
  #seq = 0;
  #timeoutMs: number;
  #deadlineMs: number;
  #abort = new AbortController();
  #signal: AbortSignal | undefined;
  #onAbort = () => void this.close();

  constructor(options: TrackerClientOptions) {
    this.trackers = options.trackers;
    this.#ca = options.ca;
    this.#timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#deadlineMs = options.failoverDeadlineMs ?? DEFAULT_FAILOVER_DEADLINE_MS;
    this.#signal = options.signal;
    if (this.#signal?.aborted) this.#abort.abort();
    this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** Index (0 or 1) of the tracker requests currently go to. */
  get current(): number {
    return this.#current;
  }

  /**
   * Sends a command and resolves with the tracker's answer. A command that the
   * tracker refuses resolves with `ok: false`; rejects with
   * {@linkcode NoTrackerError} when no tracker answered before the deadline,
   * or with a `ConnectionError` when the client is closed. `deadlineMs`
   * shortens the failover deadline for this request.
   */
  async request(
    cmd: string,
    args: Record<string, unknown> = {},
    options: { deadlineMs?: number } = {},
  ): Promise<TrackerResult> {
    const id = `${this.#clientId}-${++this.#seq}`;
    const msg = requestMessage(id, cmd, args, this.token);
    const deadline = Date.now() + Math.min(this.#deadlineMs, options.deadlineMs ?? Infinity);
    let backoff = BACKOFF_START_MS;
    let last = "no attempt made";
    for (;;) {
      this.#checkOpen();
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        const [a, b] = this.trackers.map(formatEndpoint);
        logger.info("Request {id} ({cmd}) gave up: {reason}", { id, cmd, reason: last });
        throw new NoTrackerError(`no tracker reachable (tried ${a} and ${b})`, {
          cause: new ConnectionError(last),
        });
      }
      const attempt = await this.#attempt(this.#current, msg, Math.min(this.#timeoutMs, remaining));
      if ("result" in attempt) return attempt.result;
      last = attempt.retry;
      await sleep(Math.min(backoff, Math.max(0, deadline - Date.now())), this.#abort.signal);
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    }
  }

  /** Closes every connection and fails pending requests; resolves when all is released. */
  async close(): Promise<void> {
    this.#abort.abort();
    this.#signal?.removeEventListener("abort", this.#onAbort);
    const links = this.#links.filter((p) => p !== null);
    this.#links = [null, null];
    for (const p of links) {
      const link = await p.catch(() => null);
      if (link) await link.close();
    }
  }

  async #attempt(index: number, msg: ClientRequest, timeoutMs: number): Promise<Attempt> {
    const where = formatEndpoint(this.trackers[index]!);
    let res: ClientResponse;
    try {
      const opening = this.#link(index, timeoutMs);
      let link = await opening;
      if (link.isClosed) {
        // Closed while idle (by our idle timer or the tracker's): reconnect once.
        this.#forget(index, opening);
        link = await this.#link(index, timeoutMs);
      }
      res = await link.call(msg, timeoutMs);
    } catch (err) {
      this.#checkOpen();
      const reason = `${where}: ${describeError(err)}`;
      logger.info("Tracker {where} failed request {id}: {reason}", { where, id: msg.id, reason });
      this.#failedAt[index] = Date.now();
      this.#switchFrom(index, null);
      return { retry: reason };
    }
    if (res.ok) return { result: { ok: true, data: res.data } };
    const { code, error } = res;
    if (code === "not_primary" || code === "unavailable") {
      const hint = res.primary ?? null;
      logger.debug("Tracker {where} answered {code} to {id}", { where, code, id: msg.id });
      // The hint names the tracker that just failed us: this one is about to take
      // over, so ask it again instead of going back and forth.
      const other = 1 - index;
      const otherDown = Date.now() - this.#failedAt[other]! < RECENT_FAILURE_MS;
      if (!(otherDown && (hint === null || hint === formatEndpoint(this.trackers[other]!)))) {
        this.#switchFrom(index, hint);
      }
      return { retry: `${where}: ${code}` };
    }
    return { result: code ? { ok: false, error, code } : { ok: false, error } };
  }

  /** Moves on from tracker `index` to the hinted primary, or else to the other one. */
  #switchFrom(index: number, hint: string | null): void {
    if (this.#current !== index) return; // another request already moved on
    const hinted = this.trackers.findIndex((ep) => formatEndpoint(ep) === hint);
    this.#current = hinted >= 0 && hinted !== index ? hinted : 1 - index;
    logger.info("Switching to tracker {where}", {
      where: formatEndpoint(this.trackers[this.#current]!),
    });
  }

  #link(index: number, timeoutMs: number): Promise<TrackerLink> {
    const existing = this.#links[index];
    if (existing) return existing;
    const opening: Promise<TrackerLink> = FramedConn.connect(this.trackers[index]!, {
      maxFrame: MAX_CONTROL_FRAME,
      timeoutMs,
      signal: this.#abort.signal,
      tls: { caCerts: [this.#ca] },
    }).then((conn) => {
      const link = new TrackerLink(conn);
      if (this.#abort.signal.aborted) void link.close();
      void link.done.then(() => this.#forget(index, opening));
      return link;
    });
    this.#links[index] = opening;
    opening.catch(() => this.#forget(index, opening));
    return opening;
  }

  #forget(index: number, opening: Promise<TrackerLink>): void {
    if (this.#links[index] === opening) this.#links[index] = null;
  }

  #checkOpen(): void {
    if (this.#abort.signal.aborted) throw new ConnectionError("Tracker client is closed");
  }
}

/** One connection to one tracker and the requests waiting on it, matched by id. */
class TrackerLink {
  readonly #conn: FramedConn;
  readonly #pending = new Map<string, (res: ClientResponse | Error) => void>();
  /** Resolves once the connection has closed and every waiting request has failed. */
  readonly done: Promise<void>;

  constructor(conn: FramedConn) {
    this.#conn = conn;
    this.done = this.#read();
  }

  get isClosed(): boolean {
    return this.#conn.isClosed;
  }

  /** Sends a request and waits for the answer with the same id; a timeout fails the link. */
  call(msg: ClientRequest, timeoutMs: number): Promise<ClientResponse> {
    const id = msg.id;
    return new Promise((resolve, reject) => {
      const settle = (res: ClientResponse | Error) => {
        clearTimeout(timer);
        this.#pending.delete(id);
        if (res instanceof Error) reject(res);
        else resolve(res);
      };
      const timer = setTimeout(() => {
        const err = new ConnectionError(`No answer within ${timeoutMs} ms`);
        settle(err);
        this.#conn.fail(err); // presumed hung: the other requests fail over too
      }, timeoutMs);
      this.#pending.set(id, settle);
      this.#conn.send(msg).catch((err: Error) => settle(err));
    });
  }

  async close(): Promise<void> {
    this.#conn.close();
    await this.done;
  }

  /** The message in `frame`, or null (logged) when it is not one a tracker sends. */
  #decode(frame: Frame): ClientMessage | null {
    const remote = this.#conn.remote;
    if (frame.kind !== "json") {
      logger.warn("Ignoring a data frame from tracker {remote}", { remote });
      return null;
    }
    try {
      const msg = decodeClientMessage(frame.msg);
      if (msg.t === "error") {
        logger.warn("Tracker {remote} said: {error}", { remote, error: msg.error });
      } else if (msg.t === "res") return msg;
      else logger.warn("Ignoring a request from tracker {remote}", { remote });
    } catch (err) {
      if (!(err instanceof BadMessage)) throw err;
      logger.warn("Ignoring a malformed message from tracker {remote}: {error}", {
        remote,
        error: err.message,
      });
    }
    return null;
  }

  async #read(): Promise<void> {
    try {
      for await (const frame of this.#conn.frames()) {
        const msg = this.#decode(frame);
        if (msg?.t === "res" && msg.id !== null) this.#pending.get(msg.id)?.(msg);
      }
    } finally {
      const err = this.#conn.error ??
        new ConnectionError(`Connection to ${this.#conn.remote} closed`);
      for (const settle of [...this.#pending.values()]) settle(err);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new ConnectionError("Tracker client is closed"));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new ConnectionError("Tracker client is closed"));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function randomHex(bytes: number): string {
  const buf = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(buf, (b) => b.toString(16).padStart(2, "0")).join("");
}
