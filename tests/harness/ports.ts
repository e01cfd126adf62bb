/** Free TCP ports on loopback, for processes that must be told their port. */

/** A TCP port on 127.0.0.1 that was free a moment ago (listen on port 0, then close). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}
