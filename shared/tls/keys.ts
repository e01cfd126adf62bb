/** Ed25519 key pairs for TLS identities, and their PEM and SPKI forms. */
import { x509 } from "./x509.ts";

const ED25519 = { name: "Ed25519" } as const;

/** A key pair with the private key as PEM (what `Deno.connectTls`/`listenTls` take). */
export interface TlsKeyPair {
  publicKey: CryptoKey;
  privateKey: CryptoKey;
  keyPem: string;
  /** The public key's SubjectPublicKeyInfo, base64: what a peer sends to be certified. */
  spki: string;
}

/** Makes a fresh Ed25519 key pair. */
export async function newKeyPair(): Promise<TlsKeyPair> {
  const pair = await crypto.subtle.generateKey(ED25519, true, ["sign", "verify"]) as CryptoKeyPair;
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", pair.privateKey);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
  return {
    publicKey: pair.publicKey,
    privateKey: pair.privateKey,
    keyPem: x509.PemConverter.encode(pkcs8, "PRIVATE KEY"),
    spki: btoa(String.fromCharCode(...spki)),
  };
}

/** Imports a base64 SPKI Ed25519 public key; throws on anything else. */
export function importSpki(spki: string): Promise<CryptoKey> {
  const bytes = Uint8Array.from(atob(spki), (c) => c.charCodeAt(0));
  return crypto.subtle.importKey("spki", bytes, ED25519, true, ["verify"]);
}
