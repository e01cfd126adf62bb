/**
 * tracker/server: the tracker's client-facing edge. The listener (clients and
 * the other tracker's link on one port), checking and answering client
 * requests, password hashing and signed grants, the soft state of which
 * peers are online, and the operator console.
 *
 * - `server.ts`: the listener and its connections
 * - `requests.ts`, `client_requests.ts`: a request from decoding to answer
 * - `passwords.ts`: password hashes; `presence.ts`: online peers, watches
 * - `console.ts`: the tracker's stdin commands
 * - `status_http.ts`: the `--http` status page and `/metrics` (prom-client)
 *
 * May import: `shared/`, `tracker/state/`, `tracker/replication/`.
 *
 * @module
 */
