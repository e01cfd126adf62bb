/**
 * What a certificate says, read with @peculiar/x509: its name, addresses,
 * serial, validity and the SHA-256 of its public key (the identity a grant
 * names), and whether the cluster CA signed it.
 */
import { x509 } from "./x509.ts";

/** The parts of a certificate shoal reads. */
export interface CertInfo {
  /** The subject's CN: `tracker 1`, or a peer identity's user. */
  name: string;
  ips: string[];
  serial: string;
  notBefore: Date;
  notAfter: Date;
  /** Base64 SHA-256 of the SubjectPublicKeyInfo. */
  keyId: string;
}

/** Base64 SHA-256 of a base64 SPKI: the identity a grant names. */
export async function keyIdOf(spki: string | Uint8Array<ArrayBuffer>): Promise<string> {
  const bytes = typeof spki === "string"
    ? Uint8Array.from(atob(spki), (c) => c.charCodeAt(0))
    : spki;
  const h = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return btoa(String.fromCharCode(...h));
}

/** Reads a certificate (PEM text or DER bytes); throws on anything that is not one. */
export async function certInfo(cert: string | Uint8Array<ArrayBuffer>): Promise<CertInfo> {
  const c = new x509.X509Certificate(cert);
  const san = c.getExtension(x509.SubjectAlternativeNameExtension);
  const ips = san ? san.names.items.filter((n) => n.type === "ip").map((n) => n.value) : [];
  return {
    name: c.subjectName.getField("CN")[0] ?? "",
    ips,
    serial: c.serialNumber,
    notBefore: c.notBefore,
    notAfter: c.notAfter,
    keyId: await keyIdOf(new Uint8Array(c.publicKey.rawData)),
  };
}

/** True when `cert` was signed by the CA whose certificate is `caPem` and is valid at `now`. */
export async function signedBy(
  cert: string | Uint8Array<ArrayBuffer>,
  caPem: string,
  now: Date,
): Promise<boolean> {
  const c = new x509.X509Certificate(cert);
  const ca = new x509.X509Certificate(caPem);
  if (c.issuer !== ca.subject || now < c.notBefore || now > c.notAfter) return false;
  return await c.verify({ publicKey: ca.publicKey, signatureOnly: true });
}
