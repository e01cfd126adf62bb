/**
 * Piece grants: the tracker's signed permission for one user, with one
 * identity key, to fetch one file of one group until an expiry. Signed with the tracker pair's Ed25519 key; a
 * serving peer checks the signature with the public key it learned at login.
 */
import { decodeBase64, encodeBase64 } from "./base64.ts";

/** What a grant allows. */
export interface Grant {
  user: string;
  /**
   * The identity it was issued to: base64 SHA-256 of the public key of the
   * asking peer's certificate (shared/tls/cert_info.ts `keyIdOf`). A serving
   * peer honours it only over a TLS connection from that identity.
   */
  id: string;
  group: string;
  name: string;
  sha1: string;
  /** Expiry, ms since the epoch. */
  exp: number;
  /**
   * The trackers' log position when it was issued (index, and the epoch of
   * the entry there): a revocation at a later position voids it (0 for
   * grants from before revocations existed).
   */
  idx?: number;
  ep?: number;
}

/** A grant as it travels: the exact signed JSON text and its signature (base64). */
export interface SignedGrant {
  grant: string;
  sig: string;
}

/**
 * Whether log position (epoch `aEp`, index `a`) comes before (`bEp`, `b`).
 * Epochs rise with every promotion and are never shared by the two
 * trackers, so after a split brain every position of the side with the lower
 * epoch counts as earlier than the other side's.
 */
export function before(aEp: number, a: number, bEp: number, b: number): boolean {
  return aEp < bEp || (aEp === bEp && a < b);
}

/**
 * A revocation, as the trackers send it to serving peers: every grant issued
 * before its log position (`ep`, `index`) whose user, group and name match
 * the fields given is void.
 */
export interface Revocation {
  index: number;
  ep?: number;
  user?: string;
  group?: string;
  name?: string;
}

/**
 * What a watch brings a serving peer: revocations, and the log position
 * before which every grant is void (`floor` 0: none).
 */
export interface RevocationNews {
  revocations: Revocation[];
  /** 0, or a log index: grants issued before (`floorEp`, `floor`) are void (revocations before it may be missing). */
  floor: number;
  floorEp?: number;
}

/** Whether `rev` voids `grant`. */
export function revokes(rev: Revocation, grant: Grant): boolean {
  return before(grant.ep ?? 0, grant.idx ?? 0, rev.ep ?? 0, rev.index) &&
    (rev.user === undefined || rev.user === grant.user) &&
    (rev.group === undefined || rev.group === grant.group) &&
    (rev.name === undefined || rev.name === grant.name);
}

/** How long a grant is valid. */
export const GRANT_TTL_MS = 10 * 60_000;

const encoder = new TextEncoder();

/** Makes a fresh Ed25519 key pair, exported as base64 PKCS#8 and SPKI. */
export async function newGrantKeyPair(): Promise<{ privateKey: string; publicKey: string }> {
  const kp = await crypto.subtle.generateKey("Ed25519", true, ["sign", "verify"]) as CryptoKeyPair;
  const priv = new Uint8Array(await crypto.subtle.exportKey("pkcs8", kp.privateKey));
  const pub = new Uint8Array(await crypto.subtle.exportKey("spki", kp.publicKey));
  return { privateKey: encodeBase64(priv), publicKey: encodeBase64(pub) };
}

/** Imports a base64 PKCS#8 Ed25519 private key for signing. */
export function importSigningKey(pkcs8: string): Promise<CryptoKey> {
  return crypto.subtle.importKey("pkcs8", buf(decodeBase64(pkcs8)), "Ed25519", false, ["sign"]);
}

/** Imports a base64 SPKI Ed25519 public key for verifying. */
export function importVerifyKey(spki: string): Promise<CryptoKey> {
  return crypto.subtle.importKey("spki", buf(decodeBase64(spki)), "Ed25519", false, ["verify"]);
}

/** Signs a grant. */
export async function signGrant(key: CryptoKey, grant: Grant): Promise<SignedGrant> {
  const text = JSON.stringify(grant);
  const sig = new Uint8Array(await crypto.subtle.sign("Ed25519", key, encoder.encode(text)));
  return { grant: text, sig: encodeBase64(sig) };
}

/**
 * Checks a signed grant for `file` at time `now`. Returns the grant, or a
 * one-line reason it is refused.
 */
export async function verifyGrant(
  key: CryptoKey,
  signed: unknown,
  file: { group: string; name: string; sha1: string },
  now: number,
): Promise<Grant | string> {
  if (typeof signed !== "object" || signed === null) return "no grant";
  const { grant, sig } = signed as Record<string, unknown>;
  if (typeof grant !== "string" || typeof sig !== "string" || grant.length > 4096) {
    return "malformed grant";
  }
  let sigBytes: Uint8Array<ArrayBuffer>;
  try {
    sigBytes = buf(decodeBase64(sig));
  } catch {
    return "malformed grant signature";
  }
  const ok = await crypto.subtle.verify("Ed25519", key, sigBytes, encoder.encode(grant));
  if (!ok) return "grant signature is not the trackers'";
  let g: Grant;
  try {
    g = JSON.parse(grant) as Grant;
  } catch {
    return "malformed grant";
  }
  if (typeof g !== "object" || g === null || Array.isArray(g)) return "malformed grant";
  if (typeof g.exp !== "number" || g.exp < now) return "grant expired";
  if (typeof g.id !== "string") return "grant names no identity";
  for (const v of [g.idx, g.ep]) {
    if (v !== undefined && (typeof v !== "number" || !Number.isSafeInteger(v))) {
      return "malformed grant";
    }
  }
  if (g.group !== file.group || g.name !== file.name || g.sha1 !== file.sha1) {
    return "grant is for another file";
  }
  return g;
}

function buf(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes) as Uint8Array<ArrayBuffer>;
}
