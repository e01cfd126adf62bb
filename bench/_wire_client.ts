/**
 * A bare tracker client for the benchmark: one TLS connection, requests written
 * with shoal's codec (`{t:"req", id, cmd, args, token}`) and answers matched
 * by id, so several requests may be in flight. No failover, no retries.
 */
import { FramedConn } from "../shared/conn.ts";
import { MAX_CONTROL_FRAME } from "../shared/constants.ts";
import { ConnectionError } from "../shared/errors.ts";
import { BadMessage } from "../shared/protocol/bad_message.ts";
import {
  type ClientMessage,
  type ClientResponse,
  decodeClientMessage,
  requestMessage,
} from "../shared/protocol/client.ts";
import type { Endpoint } from "../shared/tracker_info.ts";

/** A tracker's answer as it came over the wire, decoded (shared/protocol/client.ts). */
export type WireResponse = ClientResponse;

/** One pipelining connection to one tracker. */
export class WireClient {
  /** Sent with every request while set. */
  token: string | undefined;
  readonly #conn: FramedConn;
  readonly #pending = new Map<string, (res: WireResponse | Error) => void>();
  readonly #prefix: string;
  #seq = 0;
  readonly #done: Promise<void>;

  private constructor(conn: FramedConn, prefix: string) {
    this.#conn = conn;
    this.#prefix = prefix;
    this.#done = this.#read();
  }

  /**
   * Connects to `to` over TLS, trusting the CA certificate `options.ca`;
   * `options.name` makes the request ids unique across clients.
   */
  static async connect(to: Endpoint, options: { name: string; ca: string }): Promise<WireClient> {
    const conn = await FramedConn.connect(to, {
      maxFrame: MAX_CONTROL_FRAME,
      idleTimeoutMs: 0,
      tls: { caCerts: [options.ca] },
    });
    return new WireClient(conn, `${options.name}-${crypto.randomUUID().slice(0, 8)}`);
  }

  /** Sends one command and resolves with the answer; rejects when the connection ends. */
  request(cmd: string, args: Record<string, unknown> = {}): Promise<WireResponse> {
    const id = `${this.#prefix}-${++this.#seq}`;
    const msg = requestMessage(id, cmd, args, this.token);
    return new Promise((resolve, reject) => {
      this.#pending.set(id, (res) => res instanceof Error ? reject(res) : resolve(res));
      this.#conn.send(msg).catch((err: Error) => {
        this.#pending.delete(id);
        reject(err);
      });
    });
  }

  /** Like `request`, but returns `data` and throws on a failed answer. */
  async call(cmd: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const res = await this.request(cmd, args);
    if (!res.ok) throw new Error(`${cmd} failed: ${res.error} (${res.code ?? "-"})`);
    return res.data;
  }

  /** Closes the connection; pending requests reject. */
  async close(): Promise<void> {
    this.#conn.close();
    await this.#done;
  }

  async #read(): Promise<void> {
    try {
      for await (const frame of this.#conn.frames()) {
        if (frame.kind !== "json") continue;
        let msg: ClientMessage;
        try {
          msg = decodeClientMessage(frame.msg);
        } catch (err) {
          // A tracker that sends malformed answers fails the run loudly, not with a hang.
          if (!(err instanceof BadMessage)) throw err;
          this.#conn.fail(err);
          break;
        }
        if (msg.t !== "res" || msg.id === null) continue;
        const settle = this.#pending.get(msg.id);
        if (!settle) continue;
        this.#pending.delete(msg.id);
        settle(msg);
      }
    } finally {
      const err = this.#conn.error ?? new ConnectionError("Connection to the tracker closed");
      for (const settle of this.#pending.values()) settle(err);
      this.#pending.clear();
    }
  }
}
