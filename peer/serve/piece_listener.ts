/**
 * The piece server's listener: mutual TLS on the peer's `<ip>:<port>` with
 * node:tls (the one TLS server that asks a client for its certificate). A
 * downloader must show a certificate of the cluster CA, valid now; the
 * handshake refuses anyone else, so they never see an application byte.
 *
 * The listener holds the port from the start, but until this peer has an
 * identity of its own (its user logged in and was certified) it has no
 * certificate to show and every handshake fails. A renewed certificate
 * replaces the old one for the handshakes that follow; open connections go on.
 */
import tls from "node:tls";
import { describeError } from "../../shared/errors.ts";
import { log } from "../../shared/log.ts";
import { TlsSocketConn } from "../../shared/tls/tls_socket_conn.ts";
import { listenTlsServer, tlsServerAddr } from "../../shared/tls/tls_server.ts";
import { type PeerCert, peerCert } from "./peer_cert.ts";

const logger = log("peer", "server");

/** A TLS handshake must complete within this time. */
export const HANDSHAKE_TIMEOUT_MS = 5000;

/** A connection whose handshake is done, and what its client certificate says. */
export interface Accepted {
  conn: Deno.Conn;
  /** The downloader's identity: the user its certificate names and its key. */
  peer: PeerCert;
}

/** This peer's own certificate and key (PEM), shown to downloaders. */
export interface ServerIdentity {
  cert: string;
  key: string;
}

/** Where and how {@linkcode PieceListener.listen} listens. */
export interface PieceListenOptions {
  hostname: string;
  port: number;
  /** Share the port with other workers' listeners (SO_REUSEPORT). */
  reusePort?: boolean;
  /** The cluster CA's certificate (PEM): client certificates must chain to it. */
  ca: string;
}

/** Accepts mutual-TLS connections; iterate it for {@linkcode Accepted} connections. */
export class PieceListener implements AsyncIterable<Accepted> {
  #server: tls.Server;
  #ca: string;
  #queue: Accepted[] = [];
  #wake: (() => void) | null = null;
  #closed = false;

  private constructor(server: tls.Server, ca: string) {
    this.#server = server;
    this.#ca = ca;
  }

  /** Listens on the address; rejects when it cannot (e.g. the address is in use). */
  static async listen(opts: PieceListenOptions): Promise<PieceListener> {
    const server = tls.createServer({
      ca: [opts.ca],
      requestCert: true,
      rejectUnauthorized: true,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      minVersion: "TLSv1.3",
      noDelay: true,
    });
    const listener = new PieceListener(server, opts.ca);
    server.on("secureConnection", (socket: tls.TLSSocket) => listener.#admit(socket));
    await listenTlsServer(server, { ...opts, what: "Piece server" });
    return listener;
  }

  /** The address listened on. */
  get addr(): Deno.NetAddr {
    return tlsServerAddr(this.#server);
  }

  /** Shows `id` to the handshakes from now on; null: refuse every handshake again. */
  setIdentity(id: ServerIdentity | null): void {
    this.#server.setSecureContext(
      id === null ? { ca: [this.#ca] } : { ca: [this.#ca], cert: id.cert, key: id.key },
    );
  }

  /** Stops accepting; connections already handed out stay open. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#server.close();
    for (const a of this.#queue) a.conn.close();
    this.#queue = [];
    this.#notify();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Accepted> {
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
    const conn = new TlsSocketConn(socket);
    // Without it, an answer waits behind the session tickets until the client acknowledges them.
    conn.setNoDelay(true);
    let peer: PeerCert;
    try {
      peer = peerCert(socket.getPeerCertificate().raw);
    } catch (err) {
      logger.warn("Closing {remote}: unreadable client certificate ({error})", {
        remote: `${conn.remoteAddr.hostname}:${conn.remoteAddr.port}`,
        error: describeError(err),
      });
      conn.close();
      return;
    }
    if (this.#closed) {
      conn.close();
      return;
    }
    this.#queue.push({ conn, peer });
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}
