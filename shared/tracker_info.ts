/** Parsing of the `tracker_info` file and of `ip:port` addresses. */
import { ConfigError } from "./errors.ts";
import { clip } from "./names.ts";

/** A TCP endpoint. */
export interface Endpoint {
  hostname: string;
  port: number;
}

/** Formats an endpoint as `ip:port`. */
export function formatEndpoint(ep: Endpoint): string {
  return ep.hostname.includes(":") ? `[${ep.hostname}]:${ep.port}` : `${ep.hostname}:${ep.port}`;
}

/** Parses `ip:port` (or `[v6]:port`); throws {@linkcode ConfigError} with a clear message. */
export function parseEndpoint(text: string): Endpoint {
  const s = text.trim();
  const m = /^\[([^\]\s]+)\](?::|\s+)(\d+)$/.exec(s) ?? /^([^\s:\[\]]+)(?::|\s+)(\d+)$/.exec(s);
  if (!m) throw new ConfigError(`Invalid address "${clip(s)}": expected ip:port`);
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError(`Invalid port in "${clip(s)}": expected 1-65535`);
  }
  return { hostname: m[1]!, port };
}

/**
 * Parses the text of a tracker_info file: one tracker per line as `ip:port`
 * or `ip port`; blank lines and `#` comments are ignored. Exactly two trackers.
 */
export function parseTrackerInfo(text: string): [Endpoint, Endpoint] {
  const eps: Endpoint[] = [];
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.replace(/#.*$/, "").trim();
    if (line === "") continue;
    try {
      eps.push(parseEndpoint(line));
    } catch (err) {
      throw new ConfigError(`tracker_info line ${i + 1}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  if (eps.length !== 2) {
    throw new ConfigError(`tracker_info must list exactly 2 trackers, found ${eps.length}`);
  }
  return [eps[0]!, eps[1]!];
}

/** Reads and parses a tracker_info file. */
export async function readTrackerInfo(path: string): Promise<[Endpoint, Endpoint]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new ConfigError(`Cannot read tracker_info file ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return parseTrackerInfo(text);
}
