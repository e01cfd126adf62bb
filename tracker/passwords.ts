/** Salted PBKDF2-SHA256 password hashing through `crypto.subtle`. */
import { randomHex } from "./cluster_key.ts";
import { bytesToHex } from "../shared/hex.ts";

/** Iterations for new passwords (about 16 ms on the reference machine). */
export const PBKDF2_ITERATIONS = 100_000;

const encoder = new TextEncoder();

/** Hashes `password` with `salt` (hex) and `iterations`; returns hex. */
export async function hashPassword(
  password: string,
  salt: string,
  iterations: number,
): Promise<string> {
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
