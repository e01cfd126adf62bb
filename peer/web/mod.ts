/**
 * peer/web: the peer's web UI and JSON API on the command layer the shell
 * uses (peer/commands/), its live events, and its /metrics.
 *
 * - `web_server.ts`: Deno.serve, the routes, the printed URL
 * - `http_guard.ts`: Host, Origin and the secret of this start
 * - `api.ts`: the JSON API over the command layer
 * - `events.ts`: Server-Sent Events of the peer's state and notices
 * - `page.ts`, `page_script.ts`: the page
 * - `peer_metrics.ts`: the Prometheus metrics (prom-client)
 *
 * May import: `shared/`, `peer/commands/`, `peer/download/`, `peer/shares/`.
 *
 * @module
 */
export { startWebServer, type WebServer } from "./web_server.ts";
