/** A bare TLS client that writes any bytes and decodes the frames that come back. */
import { encodeJson, type Frame, FrameDecoder, type Message } from "../shared/frame.ts";
import {
  type ClientResponse,
  decodeClientMessage,
  requestMessage,
} from "../shared/protocol/client.ts";
import { MAX_LINK_FRAME } from "../shared/constants.ts";
import type { Endpoint } from "../shared/tracker_info.ts";

/** What {@linkcode RawClient.read} saw. */
export type RawEvent = { kind: "frame"; frame: Frame } | { kind: "closed" } | {
  kind: "timeout";
};

/** How a {@linkcode RawClient} proves and checks identities: the CA it trusts, and its own certificate if any. */
export interface RawTls {
  caCerts: string[];
  cert?: string;
  key?: string;
}

/**
 * A bare TLS client: writes whatever bytes it is given and decodes what comes
 * back with the frame codec, so tests can send malformed input.
 */
export class RawClient {
  readonly conn: Deno.TlsConn;
  #decoder = new FrameDecoder({ maxFrame: MAX_LINK_FRAME });
  #frames: Frame[] = [];
  #closed = false;
  #reading: Promise<void>;
  #wake: (() => void) | null = null;
  #seq = 0;

  private constructor(conn: Deno.TlsConn) {
    this.conn = conn;
    this.#reading = this.#read();
  }

  /** Connects to `ep` over TLS, trusting the CA certificate `ca` (PEM) or the CAs of `tls`. */
  static async connect(ep: Endpoint, ca: string | RawTls): Promise<RawClient> {
    const tls = typeof ca === "string" ? { caCerts: [ca] } : ca;
    const conn = await Deno.connectTls({ hostname: ep.hostname, port: ep.port, ...tls });
    return new RawClient(conn);
  }

  /** True once the remote has closed (or reset) the connection. */
  get closed(): boolean {
    return this.#closed;
  }

  async #read(): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await this.conn.read(buf);
        if (n === null) break;
        this.#frames.push(...this.#decoder.push(buf.slice(0, n)));
        this.#wake?.();
      }
    } catch { /* reset by the remote, or closed by us */ }
    this.#closed = true;
    this.#wake?.();
  }

  /** Writes raw bytes. */
  async write(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
  }

  /** Writes one JSON frame. */
  async send(msg: Message): Promise<void> {
    await this.write(encodeJson(msg));
  }

  /** The next frame, or that the connection closed, or that `timeoutMs` passed. */
  async read(timeoutMs = 5000): Promise<RawEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = this.#frames.shift();
      if (f) return { kind: "frame", frame: f };
      if (this.#closed) return { kind: "closed" };
      const left = deadline - Date.now();
      if (left <= 0) return { kind: "timeout" };
      await this.#change(left);
    }
  }

  /**
   * The next answer to a request (`t:"res"`), decoded; messages that are not
   * answers are skipped, and a malformed one throws `BadMessage`.
   */
  async #response(timeoutMs: number): Promise<{ res: ClientResponse; raw: Message }> {
    for (;;) {
      const raw = await this.message(timeoutMs);
      const res = decodeClientMessage(raw);
      if (res.t === "res") return { res, raw };
    }
  }

  /** The next JSON message; throws on close, timeout or a data frame. */
  async message(timeoutMs = 5000): Promise<Message> {
    const ev = await this.read(timeoutMs);
    if (ev.kind !== "frame") throw new Error(`expected a message, got ${ev.kind}`);
    if (ev.frame.kind !== "json") throw new Error("expected a JSON frame, got data");
    return ev.frame.msg;
  }

  /**
   * Sends a request (with a fresh id unless `id` is given) and returns the
   * response to it, checked by the client protocol's decoder and as it came.
   */
  async request(
    cmd: string,
    args: Record<string, unknown> = {},
    token?: string,
    id = `raw-${crypto.randomUUID()}-${++this.#seq}`,
  ): Promise<Message> {
    await this.send(requestMessage(id, cmd, args, token));
    for (;;) {
      const { res, raw } = await this.#response(10_000);
      if (res.id === id) return raw;
    }
  }

  /**
   * Sends many requests at once (pipelined) and returns the responses in the
   * order of `requests`.
   */
  async requestMany(
    requests: { cmd: string; args?: Record<string, unknown>; token?: string }[],
  ): Promise<Message[]> {
    const ids = requests.map(() => `raw-${crypto.randomUUID()}-${++this.#seq}`);
    const frames = requests.map((r, i) =>
      encodeJson(requestMessage(ids[i]!, r.cmd, r.args ?? {}, r.token))
    );
    const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    let off = 0;
    for (const f of frames) {
      all.set(f, off);
      off += f.length;
    }
    await this.write(all);
    const answers = new Map<string, Message>();
    while (answers.size < ids.length) {
      const { res, raw } = await this.#response(30_000);
      if (res.id !== null) answers.set(res.id, raw);
    }
    return ids.map((id) => answers.get(id)!);
  }

  /**
   * Waits until the remote closes the connection; true if it did within
   * `timeoutMs`. Frames that arrive meanwhile stay queued for `read`.
   */
  async waitClosed(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#closed && Date.now() < deadline) await this.#change(deadline - Date.now());
    return this.#closed;
  }

  /** Resolves when a frame arrives, the connection closes or `ms` pass. */
  #change(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(t);
        this.#wake = null;
        resolve();
      };
    });
  }

  /** Closes our side and waits for the reader to stop. */
  async close(): Promise<void> {
    try {
      this.conn.close();
    } catch { /* already closed */ }
    await this.#reading;
  }
}
