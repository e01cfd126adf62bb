/**
 * A node:tls socket seen as a `Deno.Conn`, so that the piece server's
 * {@linkcode FramedConn} reads and writes it as it does any connection. Only
 * node:tls can ask a TLS client for its certificate (`Deno.listenTls` cannot),
 * so the piece server listens with it and wraps each socket in this.
 *
 * Writes pass the caller's bytes to the socket as they are (no copy) and
 * resolve once the socket has taken them, so the caller may reuse its buffer
 * then. Reads copy from the socket's chunks; past {@link MAX_BUFFERED} bytes
 * not yet read, the socket is paused.
 */
import type { TLSSocket } from "node:tls";

/** How long a closed socket may take to send what it was given before it is destroyed. */
export const CLOSE_LINGER_MS = 1000;

/** Bytes received and not yet read at which the socket stops reading. */
export const MAX_BUFFERED = 256 * 1024;

/** A node:tls socket with the `Deno.Conn` interface. */
export class TlsSocketConn implements Deno.Conn {
  readonly localAddr: Deno.NetAddr;
  readonly remoteAddr: Deno.NetAddr;
  #socket: TLSSocket;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #ended = false;
  #closed = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;
  #readable: ReadableStream<Uint8Array<ArrayBuffer>> | null = null;
  #writable: WritableStream<Uint8Array> | null = null;

  constructor(socket: TLSSocket) {
    this.#socket = socket;
    this.localAddr = netAddr(socket.localAddress, socket.localPort);
    this.remoteAddr = netAddr(socket.remoteAddress, socket.remotePort);
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
      if (this.#buffered >= MAX_BUFFERED) socket.pause();
      this.#notify();
    });
    const end = () => {
      this.#ended = true;
      this.#notify();
    };
    socket.on("end", end);
    socket.on("close", end);
    socket.on("error", (err: Error) => {
      this.#error ??= err;
      this.#notify();
    });
  }

  /** Reads into `p`: null at the end of the stream; throws the socket's error, if it failed. */
  async read(p: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#closed) return null;
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((r) => this.#wake = r);
    }
    const chunk = this.#chunks[0]!;
    const n = Math.min(p.length, chunk.length);
    p.set(n === chunk.length ? chunk : chunk.subarray(0, n));
    if (n === chunk.length) this.#chunks.shift();
    else this.#chunks[0] = chunk.subarray(n);
    this.#buffered -= n;
    if (this.#buffered < MAX_BUFFERED && this.#socket.isPaused()) this.#socket.resume();
    return n;
  }

  /** Writes all of `p` (not copied); resolves with its length once the socket has taken it. */
  write(p: Uint8Array): Promise<number> {
    if (this.#closed) return Promise.reject(new Deno.errors.BadResource("Connection closed"));
    if (this.#error) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      this.#socket.write(p, (err?: Error | null) => err ? reject(err) : resolve(p.length));
    });
  }

  /**
   * Closes the connection (idempotent): what was written still goes out,
   * then TLS close_notify, so the other side reads a clean end, not a
   * truncation. A socket that has not finished after {@link CLOSE_LINGER_MS}
   * is destroyed.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const socket = this.#socket;
    const linger = setTimeout(() => socket.destroy(), CLOSE_LINGER_MS);
    socket.once("close", () => clearTimeout(linger));
    socket.end();
    socket.resume(); // drain what still arrives, so the close can complete
    this.#notify();
  }

  /** Ends the sending side (TLS close_notify, then FIN). */
  closeWrite(): Promise<void> {
    return new Promise((resolve) => this.#socket.end(resolve));
  }

  /** Sends small writes at once (no Nagle delay); FramedConn turns it on. */
  setNoDelay(noDelay = true): void {
    this.#socket.setNoDelay(noDelay);
  }

  /** Keeps the event loop alive while the socket is open. */
  ref(): void {
    this.#socket.ref();
  }

  /** Lets the event loop end while the socket is open. */
  unref(): void {
    this.#socket.unref();
  }

  /** The received bytes as a stream (read through {@linkcode read}). */
  get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
    return this.#readable ??= new ReadableStream({
      pull: async (ctl) => {
        const buf = new Uint8Array(64 * 1024);
        const n = await this.read(buf);
        if (n === null) ctl.close();
        else ctl.enqueue(buf.subarray(0, n));
      },
      cancel: () => this.close(),
    });
  }

  /** A stream that writes to the connection (through {@linkcode write}). */
  get writable(): WritableStream<Uint8Array> {
    return this.#writable ??= new WritableStream({
      write: async (chunk) => void await this.write(chunk),
      close: () => this.closeWrite(),
      abort: () => this.close(),
    });
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}

function netAddr(hostname: string | undefined, port: number | undefined): Deno.NetAddr {
  return { transport: "tcp", hostname: hostname ?? "", port: port ?? 0 };
}
