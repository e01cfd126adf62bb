/**
 * A TLS listener whose connections are `Deno.Conn`s with Nagle off. The
 * tracker listens with it instead of `Deno.listenTls`, whose connections
 * cannot set TCP_NODELAY: there a burst of small answers waited for the
 * client's delayed ACKs (1,200 pipelined lookups took 5.8 s instead of
 * 0.13 s). It is node:tls underneath, like the piece server's listener.
 */
import tls from "node:tls";
import { log } from "../log.ts";
import { TlsSocketConn } from "./tls_socket_conn.ts";
import { listenTlsServer, tlsServerAddr } from "./tls_server.ts";

const logger = log("tls");

/** A handshake that has not finished after this long is dropped. */
export const HANDSHAKE_TIMEOUT_MS = 5000;

/** What {@linkcode TlsListener.listen} takes. */
export interface TlsListenOptions {
  hostname: string;
  port: number;
  /** The server's certificate chain and key, PEM. */
  cert: string;
  key: string;
  /**
   * The CA a client certificate must chain to. A client may show none (a
   * peer before its first login), but one it shows from anywhere else
   * closes the connection before any byte is read.
   */
  clientCa?: string;
}

/** Accepted TLS connections, as an async iterable of `Deno.Conn`. */
export class TlsListener implements AsyncIterable<Deno.Conn> {
  #server: tls.Server;
  #queue: Deno.Conn[] = [];
  #wake: (() => void) | null = null;
  #closed = false;
  #checkClients: boolean;

  private constructor(server: tls.Server, checkClients: boolean) {
    this.#server = server;
    this.#checkClients = checkClients;
  }

  /** Listens on the address; rejects when it cannot (e.g. the address is in use). */
  static async listen(opts: TlsListenOptions): Promise<TlsListener> {
    const server = tls.createServer({
      cert: opts.cert,
      key: opts.key,
      ...(opts.clientCa === undefined ? {} : {
        ca: [opts.clientCa],
        requestCert: true,
        // Checked in #admit: a client without a certificate is still welcome.
        rejectUnauthorized: false,
      }),
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      minVersion: "TLSv1.3",
      noDelay: true,
      // A client that ends its side still gets the answers and the error notices sent after.
      allowHalfOpen: true,
    });
    const listener = new TlsListener(server, opts.clientCa !== undefined);
    server.on("secureConnection", (socket: tls.TLSSocket) => listener.#admit(socket));
    await listenTlsServer(server, { ...opts, what: "TLS listener" });
    return listener;
  }

  /** The address listened on. */
  get addr(): Deno.NetAddr {
    return tlsServerAddr(this.#server);
  }

  /** Stops accepting; connections already handed out stay open. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#server.close();
    for (const c of this.#queue) c.close();
    this.#queue = [];
    this.#notify();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Deno.Conn> {
    while (!this.#closed) {
      const next = this.#queue.shift();
      if (next) {
        yield next;
        continue;
      }
      await new Promise<void>((r) => this.#wake = r);
    }
  }

  #admit(socket: tls.TLSSocket): void {
    if (this.#checkClients && !socket.authorized && presentedCert(socket)) {
      logger.debug("TLS client {remote} showed a certificate of another CA: closed", {
        remote: `${socket.remoteAddress}:${socket.remotePort}`,
      });
      socket.destroy();
      return;
    }
    const conn = new TlsSocketConn(socket);
    conn.setNoDelay(true);
    if (this.#closed) {
      conn.close();
      return;
    }
    this.#queue.push(conn);
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}

/** True when the client sent a certificate (empty object when it sent none). */
function presentedCert(socket: tls.TLSSocket): boolean {
  const cert = socket.getPeerCertificate();
  return cert !== null && typeof cert === "object" && Object.keys(cert).length > 0;
}
