/**
 * The shared secret of the tracker pair and the challenge-response that
 * authenticates the link between the two trackers with it (HMAC-SHA256).
 */
import { ConfigError } from "../../shared/errors.ts";
import { bytesToHex, hexToBytes } from "../../shared/hex.ts";

const encoder = new TextEncoder();

/** How far a hello's timestamp may be from the receiver's clock. */
export const HELLO_MAX_SKEW_MS = 60_000;

/** Reads the key file, or creates it with a fresh random 256-bit key when it does not exist. */
export async function loadClusterKey(path: string): Promise<CryptoKey> {
  return await importClusterKey(await loadClusterKeyBytes(path));
}

/** The HMAC key of the link, from the key file's bytes. */
export function importClusterKey(bytes: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", bytes, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
    "verify",
  ]);
}

/**
 * The key file's bytes (the CA is derived from them too), creating the file
 * with a fresh random 256-bit key when it does not exist.
 */
export async function loadClusterKeyBytes(path: string): Promise<Uint8Array<ArrayBuffer>> {
  let hex: string;
  try {
    hex = (await Deno.readTextFile(path)).trim();
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      throw new ConfigError(`Cannot read cluster key ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    hex = randomHex(32);
    try {
      await Deno.writeTextFile(path, hex + "\n", { createNew: true, mode: 0o600 });
    } catch (e) {
      // The other tracker created it first: use theirs.
      if (!(e instanceof Deno.errors.AlreadyExists)) {
        throw new ConfigError(`Cannot create cluster key ${path}: ${(e as Error).message}`, {
          cause: e,
        });
      }
      await new Promise((r) => setTimeout(r, 50));
      hex = (await Deno.readTextFile(path)).trim();
    }
  }
  if (!/^[0-9a-f]{64,}$/i.test(hex)) {
    throw new ConfigError(`Cluster key ${path} must hold at least 64 hex digits`);
  }
  return hexToBytes(hex);
}

/** HMAC-SHA256 of `parts` joined with `|`, as hex. */
export async function mac(key: CryptoKey, ...parts: (string | number)[]): Promise<string> {
  const sig = await crypto.subtle.sign("HMAC", key, encoder.encode(parts.join("|")));
  return bytesToHex(new Uint8Array(sig));
}

/** Checks an HMAC made by {@linkcode mac}. */
export async function verifyMac(
  key: CryptoKey,
  given: unknown,
  ...parts: (string | number)[]
): Promise<boolean> {
  if (typeof given !== "string" || !/^[0-9a-f]{64}$/.test(given)) return false;
  return await crypto.subtle.verify(
    "HMAC",
    key,
    hexToBytes(given),
    encoder.encode(parts.join("|")),
  );
}

/** `n` random bytes as hex. */
export function randomHex(n: number): string {
  return bytesToHex(crypto.getRandomValues(new Uint8Array(n)));
}
