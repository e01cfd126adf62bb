/**
 * peer/tracker_client: the peer's side of the client protocol. One
 * connection to the primary tracker with failover to the other, and the
 * keepalive watch that keeps the session online and brings revocations.
 *
 * - `tracker_client.ts`: requests and failover
 * - `tracker_watch.ts`: the held `watch` request, revocation news
 * - `identity.ts`: this peer's TLS identity: its key, the certificate the
 *   trackers issue at login, renewal
 *
 * May import: `shared/`.
 *
 * @module
 */
