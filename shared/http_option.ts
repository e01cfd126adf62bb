/** The `--http` option of both roles: `off`, a port, or `ip:port` (port 0: the OS picks one). */
import { ConfigError } from "./errors.ts";
import { clip } from "./names.ts";
import type { Endpoint } from "./tracker_info.ts";

/** The address to serve HTTP on, or null for `off`. A bare port means 127.0.0.1. */
export function parseHttpOption(text: string): Endpoint | null {
  const s = text.trim();
  if (s === "off") return null;
  const m = /^(\d+)$/.exec(s) ?? /^\[([^\]\s]+)\]:(\d+)$/.exec(s) ??
    /^([^\s:\[\]]+):(\d+)$/.exec(s);
  if (!m) throw new ConfigError(`--http "${clip(s)}" is not off, a port or ip:port`);
  const hostname = m.length === 2 ? "127.0.0.1" : m[1]!;
  const port = Number(m.length === 2 ? m[1] : m[2]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`--http "${clip(s)}": the port must be 0-65535`);
  }
  return { hostname, port };
}

/** True for an address only this machine can reach. */
export function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || /^127\./.test(hostname);
}
