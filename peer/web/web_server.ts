/**
 * The peer's web server (Deno.serve): the page at `/`, the JSON API under
 * `/api/`, `/metrics`. It listens on 127.0.0.1 unless told otherwise, and
 * every request passes the guard (peer/web/http_guard.ts): its Host, its
 * Origin, and the secret of this start.
 */
import { describeError } from "../../shared/errors.ts";
import { log } from "../../shared/log.ts";
import type { Ctx } from "../commands/command.ts";
import { fail, handleApi, peerState } from "./api.ts";
import { EventHub } from "./events.ts";
import { type GuardConfig, hostsFor, newSecret, refusal, secretCookie } from "./http_guard.ts";
import { PAGE } from "./page.ts";
import { peerMetrics } from "./peer_metrics.ts";

const logger = log("peer", "web");

/** Options for {@linkcode startWebServer}. */
export interface WebServerOptions {
  hostname: string;
  /** 0: the OS picks one. */
  port: number;
  ctx: Ctx;
  /** The secret of this start; default a new random one. */
  secret?: string;
}

/** A running web server. */
export interface WebServer {
  /** The page's URL with the secret (to print at start, as Jupyter does). */
  readonly url: string;
  /** Where the server listens: `http://host:port`. */
  readonly origin: string;
  readonly secret: string;
  /** Live events of the page: also the peer's notices. */
  readonly events: EventHub;
  close(): Promise<void>;
}

/** Starts the server; rejects if it cannot listen (e.g. the port is taken). */
export function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const secret = opts.secret ?? newSecret();
  const events = new EventHub(() => peerState(opts.ctx));
  const metrics = peerMetrics(opts.ctx);
  let guard: GuardConfig | null = null;
  const ready = Promise.withResolvers<Deno.NetAddr>();
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: opts.hostname,
      port: opts.port,
      // The guard exists before the first request can be handled.
      onListen: (addr) => {
        guard = { secret, hosts: hostsFor(addr.hostname, addr.port), cookie: `shoal_${addr.port}` };
        ready.resolve(addr);
      },
      onError: (err) => {
        logger.warn("Web request failed: {error}", { error: describeError(err) });
        return fail(500, "internal error", "refused");
      },
    }, (req) => handle(req, guard!, { ctx: opts.ctx, events, metrics }));
  } catch (err) {
    return Promise.reject(
      new Error(`Cannot serve the web UI on ${opts.hostname}:${opts.port}: ${describeError(err)}`),
    );
  }
  return ready.promise.then((addr) => {
    const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
    const origin = `http://${host}:${addr.port}`;
    return {
      url: `${origin}/?token=${secret}`,
      origin,
      secret,
      events,
      async close() {
        events.close();
        await server.shutdown();
      },
    };
  });
}

async function handle(
  req: Request,
  guard: GuardConfig,
  deps: { ctx: Ctx; events: EventHub; metrics: ReturnType<typeof peerMetrics> },
): Promise<Response> {
  const url = new URL(req.url);
  const token = url.pathname === "/" && req.method === "GET"
    ? url.searchParams.get("token") ?? undefined
    : undefined;
  const no = refusal(req, guard, token);
  if (no) {
    if (url.pathname === "/" && req.method === "GET") return page(no.status, refusedPage(no.error));
    return fail(no.status, no.error, no.status === 401 ? "secret" : "origin");
  }
  if (token !== undefined) {
    // The secret goes into a cookie of this server and out of the address bar.
    return new Response(null, {
      status: 303,
      headers: { location: "/", "set-cookie": secretCookie(guard), "cache-control": "no-store" },
    });
  }
  if (url.pathname === "/" && req.method === "GET") return page(200, PAGE);
  if (url.pathname.startsWith("/api/")) return await handleApi(req, deps);
  if (url.pathname === "/metrics" && req.method === "GET") {
    return new Response(await deps.metrics.metrics(), {
      headers: { "content-type": deps.metrics.contentType, "cache-control": "no-store" },
    });
  }
  return fail(404, `no such page: ${url.pathname.slice(0, 60)}`, "unknown");
}

function page(status: number, html: string): Response {
  return new Response(html, {
    status,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      // Nothing but this page's own inline code and this server.
      "content-security-policy":
        "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; frame-ancestors 'none'",
      "x-frame-options": "DENY",
      "referrer-policy": "no-referrer",
    },
  });
}

function refusedPage(error: string): string {
  const safe = error.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html><meta charset="utf-8"><title>shoal</title><p>${safe}</p>`;
}
