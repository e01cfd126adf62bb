/**
 * peer/serve: the piece server on the peer's `<ip>:<port>`. Workers accept
 * downloaders, check each one's grant, and send pieces of shared files and
 * verified pieces of files still downloading, read from disk without copies.
 *
 * - `server_pool.ts`: the workers sharing the address (main-thread side)
 * - `server_worker.ts`, `server_protocol.ts`: one worker and what it is told
 * - `piece_server.ts`: one connection of the transfer protocol, serving side
 * - `served_files.ts`: what this peer can serve right now
 * - `piece_listener.ts`, `peer_cert.ts`: the mutual-TLS
 *   listener (node:tls, sockets as Deno.Conn by shared/tls), the client certificate read
 * - `revoked_grants.ts`: grants and identities it no longer honours
 *
 * The first worker also hosts peer/verify's hashes on its thread (verify_host.ts),
 * which saves an isolate; the code stays in peer/verify.
 *
 * May import: `shared/`, `peer/store/`, `peer/verify/`.
 *
 * @module
 */
