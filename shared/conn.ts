/**
 * A framed connection (TLS over TCP): reads frames through
 * {@linkcode FrameDecoder} with idle and partial-frame timeouts, and writes
 * frames one at a time. Every dial is TLS: {@linkcode FramedConn.connect}
 * takes the CA to trust and, for mutual TLS, the client's own certificate.
 */
import { ConnectionError, FrameError } from "./errors.ts";
import { encodeDataHeader, encodeJson, type Frame, FrameDecoder, type Message } from "./frame.ts";
import { errorNotice } from "./protocol/bad_message.ts";

/** Default time a connection may stay silent before it is closed. */
export const DEFAULT_IDLE_TIMEOUT_MS = 120_000;
/** Default time a started frame may take to arrive in full. */
export const DEFAULT_PARTIAL_TIMEOUT_MS = 10_000;
const READ_BUFFER = 64 * 1024;
/** A frame with at least this much still to come is read straight into its own buffer. */
const DIRECT_READ_MIN = 16 * 1024;

/** Options for {@linkcode FramedConn}. */
export interface FramedConnOptions {
  /** Largest frame accepted from the remote side. */
  maxFrame: number;
  /** Close after this long with no byte received (0: never). */
  idleTimeoutMs?: number;
  /** Close when a frame has begun but not completed within this long. */
  partialTimeoutMs?: number;
  /** Allocator for frames assembled from several reads (see FrameDecoder). */
  alloc?: (len: number) => Uint8Array;
  /** Takes back buffers from `alloc` the decoder no longer needs (see FrameDecoder). */
  release?: (buf: Uint8Array) => void;
}

/** What a TLS dial trusts and, for mutual TLS, presents. */
export interface TlsDialOptions {
  /** The CA certificates (PEM) the server's certificate must chain to. */
  caCerts: string[];
  /** The client's own certificate (PEM), for servers that ask for one. */
  cert?: string;
  /** The private key (PEM) of `cert`. */
  key?: string;
}

/** Options for {@linkcode FramedConn.connect}. */
export interface FramedDialOptions extends FramedConnOptions {
  /** Gives up when the connection and TLS handshake take longer (default 3 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** The TLS settings of the dial: there is no plaintext dial. */
  tls: TlsDialOptions;
}

/** A connection that speaks shoal frames. */
export class FramedConn {
  readonly conn: Deno.Conn;
  readonly remote: string;
  #decoder: FrameDecoder;
  #idleMs: number;
  #partialMs: number;
  #writing: Promise<void> = Promise.resolve();
  #closed = false;
  #error: Error | null = null;
  #timer: ReturnType<typeof setInterval> | undefined;
  #lastRead = Date.now();
  #partialSince = 0;

  constructor(conn: Deno.Conn, options: FramedConnOptions) {
    this.conn = conn;
    const addr = conn.remoteAddr as Deno.NetAddr;
    this.remote = `${addr.hostname}:${addr.port}`;
    this.#decoder = new FrameDecoder({
      maxFrame: options.maxFrame,
      alloc: options.alloc,
      release: options.release,
    });
    this.#idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.#partialMs = options.partialTimeoutMs ?? DEFAULT_PARTIAL_TIMEOUT_MS;
    try {
      (conn as Deno.TcpConn).setNoDelay(true);
    } catch { /* not every transport supports it */ }
  }

  /**
   * Opens a TLS connection to `hostname:port` (the server's certificate must
   * name that address and chain to `tls.caCerts`), handshake included,
   * failing after `timeoutMs`.
   */
  static async connect(
    addr: { hostname: string; port: number },
    options: FramedDialOptions,
  ): Promise<FramedConn> {
    const timeout = AbortSignal.timeout(options.timeoutMs ?? 3000);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    try {
      const conn = await untilAborted(dialTls(addr, options.tls), signal);
      return new FramedConn(conn, options);
    } catch (err) {
      throw new ConnectionError(
        `Cannot connect to ${addr.hostname}:${addr.port}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  /** Changes the largest frame accepted from the remote side from now on. */
  setMaxFrame(max: number): void {
    this.#decoder.maxFrame = max;
  }

  /** Why the connection ended, once it has (null for a clean close by either side). */
  get error(): Error | null {
    return this.#error;
  }

  /** True once the connection is closed. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Yields frames until the remote closes, a timeout fires or a frame is malformed. */
  async *frames(): AsyncGenerator<Frame> {
    const buf = new Uint8Array(READ_BUFFER);
    this.#arm();
    try {
      while (!this.#closed) {
        // The rest of a large frame goes straight into the frame's buffer.
        const rest = this.#decoder.rest;
        const into = rest && rest.length >= DIRECT_READ_MIN ? rest : buf;
        let n: number | null;
        try {
          n = await this.conn.read(into);
        } catch (err) {
          if (!this.#closed) this.#fail(new ConnectionError(describe(err), { cause: err }));
          return;
        }
        if (n === null) return;
        this.#lastRead = Date.now();
        let frames: Frame[];
        try {
          // Frames that arrive whole are views into `buf`; they are consumed
          // by the caller before the next read reuses it.
          frames = into === buf ? this.#decoder.push(buf.subarray(0, n)) : this.#decoder.filled(n);
        } catch (err) {
          const e = err instanceof FrameError ? err : new FrameError(describe(err));
          // Tell the remote why before hanging up; the reply is best effort.
          this.#error = e;
          await this.send(errorNotice(e.message)).catch(() => {});
          this.#fail(e);
          return;
        }
        if (this.#decoder.partial) {
          if (this.#partialSince === 0) this.#partialSince = this.#lastRead;
        } else this.#partialSince = 0;
        for (const frame of frames) yield frame;
      }
    } finally {
      this.close();
      this.#decoder.dispose();
    }
  }

  /** Sends a control message. Rejects when the connection is closed. */
  send(msg: Message): Promise<void> {
    const bytes = encodeJson(msg);
    return this.#enqueue([bytes]);
  }

  /** Sends a data frame; `data` is written as it is, without a copy. */
  sendData(tag: number, data: Uint8Array): Promise<void> {
    return this.#enqueue([encodeDataHeader(tag, data.length), data]);
  }

  /** Closes the connection (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }

  /** Closes the connection, recording `err` as the reason. */
  fail(err: Error): void {
    this.#fail(err);
  }

  #fail(err: Error): void {
    if (this.#closed) return;
    this.#error = err;
    this.close();
  }

  #enqueue(parts: Uint8Array[]): Promise<void> {
    const next = this.#writing.then(async () => {
      if (this.#closed) throw this.#error ?? new ConnectionError("Connection closed");
      try {
        for (const part of parts) await writeAll(this.conn, part);
      } catch (err) {
        this.#fail(new ConnectionError(describe(err), { cause: err }));
        throw this.#error;
      }
    });
    this.#writing = next.catch(() => {});
    return next;
  }

  #arm(): void {
    const tick = Math.min(
      this.#idleMs > 0 ? this.#idleMs : Infinity,
      this.#partialMs > 0 ? this.#partialMs : Infinity,
      1000,
    );
    if (!Number.isFinite(tick)) return;
    this.#timer = setInterval(() => {
      const now = Date.now();
      if (
        this.#partialSince > 0 && this.#partialMs > 0 && now - this.#partialSince > this.#partialMs
      ) {
        this.#fail(new ConnectionError("Frame not completed in time"));
      } else if (this.#idleMs > 0 && now - this.#lastRead > this.#idleMs) {
        this.#fail(new ConnectionError("Connection idle for too long"));
      }
    }, tick);
  }
}

async function dialTls(
  addr: { hostname: string; port: number },
  tls: TlsDialOptions,
): Promise<Deno.TlsConn> {
  const { hostname, port } = addr;
  const conn = tls.cert !== undefined && tls.key !== undefined
    ? await Deno.connectTls({ hostname, port, caCerts: tls.caCerts, cert: tls.cert, key: tls.key })
    : await Deno.connectTls({ hostname, port, caCerts: tls.caCerts });
  try {
    await conn.handshake();
  } catch (err) {
    conn.close();
    throw err;
  }
  return conn;
}

/** Settles like `dial`, or rejects when `signal` aborts first (closing what `dial` still opens). */
function untilAborted(dial: Promise<Deno.Conn>, signal: AbortSignal): Promise<Deno.Conn> {
  if (signal.aborted) {
    dial.then((c) => c.close(), () => {});
    return Promise.reject(signal.reason);
  }
  return new Promise((resolve, reject) => {
    let settled = false;
    const onAbort = () => {
      settled = true;
      reject(signal.reason);
      dial.then((c) => c.close(), () => {});
    };
    signal.addEventListener("abort", onAbort, { once: true });
    dial.then((c) => {
      signal.removeEventListener("abort", onAbort);
      if (!settled) resolve(c);
    }, (err) => {
      signal.removeEventListener("abort", onAbort);
      if (!settled) reject(err);
    });
  });
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
