/**
 * What the node:tls listeners (the tracker's shared/tls/tls_listener.ts and
 * the piece server's peer/serve/piece_listener.ts) share: listening with
 * handshake failures logged, and the address listened on.
 */
import type tls from "node:tls";
import { describeError } from "../errors.ts";
import { log } from "../log.ts";

const logger = log("tls");

/**
 * Logs failed handshakes (debug), listens on the address and resolves once
 * listening; rejects when it cannot (e.g. the address is in use). Later
 * server errors are logged as `<what> failed`.
 */
export async function listenTlsServer(
  server: tls.Server,
  opts: { hostname: string; port: number; reusePort?: boolean; what: string },
): Promise<void> {
  server.on("tlsClientError", (err: Error, socket: tls.TLSSocket) => {
    logger.debug("TLS handshake with {remote} failed: {error}", {
      remote: `${socket.remoteAddress}:${socket.remotePort}`,
      error: describeError(err),
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    // `reusePort` is known to Deno's node:net, not yet to its types.
    const listen: { host: string; port: number; reusePort?: boolean } = {
      host: opts.hostname,
      port: opts.port,
    };
    if (opts.reusePort) listen.reusePort = true;
    server.listen(listen, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (err: Error) => {
    logger.error("{what} failed: {error}", { what: opts.what, error: describeError(err) });
  });
}

/** The address `server` listens on. */
export function tlsServerAddr(server: tls.Server): Deno.NetAddr {
  const a = server.address();
  return typeof a === "object" && a !== null
    ? { transport: "tcp", hostname: a.address, port: a.port }
    : { transport: "tcp", hostname: "", port: 0 };
}
