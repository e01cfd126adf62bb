/** Salted PBKDF2-SHA256 password hashing through `crypto.subtle`. */
import { randomHex } from "../replication/cluster_key.ts";
import { bytesToHex } from "../../shared/hex.ts";

/** Iterations for new passwords (about 16 ms on the reference machine). */
export const PBKDF2_ITERATIONS = 100_000;

/** Password hashes computed at once; more wait, so a flood cannot take every core. */
export const MAX_CONCURRENT_HASHES = 1;

const encoder = new TextEncoder();
let running = 0;
const waiting: (() => void)[] = [];

async function limited<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT_HASHES) await new Promise<void>((r) => waiting.push(r));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/** Hashes `password` with `salt` (hex) and `iterations`; returns hex. */
export function hashPassword(
  password: string,
  salt: string,
  iterations: number,
): Promise<string> {
  return limited(() => pbkdf2(password, salt, iterations));
}

async function pbkdf2(password: string, salt: string, iterations: number): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(password), "PBKDF2", false, [
    "deriveBits",
  ]);
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: encoder.encode(salt), iterations },
    key,
    256,
  );
  return bytesToHex(new Uint8Array(bits));
}

/** Makes the stored credentials of a new password: a fresh salt and its hash. */
export async function newCredentials(
  password: string,
): Promise<{ salt: string; hash: string; iterations: number }> {
  const salt = randomHex(16);
  return {
    salt,
    hash: await hashPassword(password, salt, PBKDF2_ITERATIONS),
    iterations: PBKDF2_ITERATIONS,
  };
}
