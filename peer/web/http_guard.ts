/**
 * Who may use a peer's web UI and API: a request must name this server in
 * its Host header (so a DNS-rebinding page cannot reach it), come from no
 * other origin (so a page elsewhere cannot drive the peer), and carry the
 * secret of this start, as a bearer token or as the cookie the page got when
 * it was opened with the secret in its URL (as Jupyter does).
 */
import { timingSafeEqual } from "node:crypto";
import { bytesToHex } from "../../shared/hex.ts";
import { clip } from "../../shared/names.ts";

/** What the guard checks against. */
export interface GuardConfig {
  /** The secret of this start. */
  secret: string;
  /** The `host:port` values this server answers to (its address, and `localhost:port` on loopback). */
  hosts: string[];
  /** The name of the cookie that carries the secret (one per port: cookies ignore ports). */
  cookie: string;
}

/** A refusal: the status and the one-line reason. */
export interface Refusal {
  status: 401 | 403;
  error: string;
}

/** The hosts a server on `hostname:port` answers to. */
export function hostsFor(hostname: string, port: number): string[] {
  const hosts = [`${hostname}:${port}`];
  if (hostname === "127.0.0.1") hosts.push(`localhost:${port}`);
  if (hostname === "::1") hosts[0] = `[::1]:${port}`;
  return hosts;
}

/**
 * Null when the request may go on; otherwise why not. `token` is the secret
 * as given in the page's URL (`/?token=`), which stands for the cookie once.
 */
export function refusal(req: Request, config: GuardConfig, token?: string): Refusal | null {
  const host = req.headers.get("host") ?? "";
  if (!config.hosts.includes(host.toLowerCase())) {
    return { status: 403, error: `this server does not answer to the host "${clip(host)}"` };
  }
  const origin = req.headers.get("origin");
  if (origin !== null && !config.hosts.some((h) => origin === `http://${h}`)) {
    return { status: 403, error: "requests from other origins are refused" };
  }
  // A browser says where a request comes from; one from another site is refused even without Origin.
  const site = req.headers.get("sec-fetch-site");
  if (site !== null && site !== "same-origin" && site !== "none") {
    return { status: 403, error: "requests from other sites are refused" };
  }
  if (!(token !== undefined && same(token, config.secret)) && !hasSecret(req, config)) {
    return {
      status: 401,
      error: "the secret of this peer's start is needed (open the URL the peer printed)",
    };
  }
  return null;
}

/** True when the request carries the secret as a bearer token or as the cookie. */
export function hasSecret(req: Request, config: GuardConfig): boolean {
  const auth = req.headers.get("authorization");
  if (auth?.startsWith("Bearer ") && same(auth.slice(7).trim(), config.secret)) return true;
  const cookie = cookieValue(req.headers.get("cookie") ?? "", config.cookie);
  return cookie !== null && same(cookie, config.secret);
}

/** The value of cookie `name` in a Cookie header, or null. */
export function cookieValue(header: string, name: string): string | null {
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/** The Set-Cookie header that keeps the secret in this browser for this server only. */
export function secretCookie(config: GuardConfig): string {
  return `${config.cookie}=${config.secret}; Path=/; HttpOnly; SameSite=Strict`;
}

/** Compares in constant time, so the secret cannot be guessed a byte at a time. */
export function same(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A new secret: 128 random bits, hex. */
export function newSecret(): string {
  return bytesToHex(crypto.getRandomValues(new Uint8Array(16)));
}
