/**
 * The cluster's certificate authority. Its Ed25519 key is derived from the
 * cluster key (HKDF-SHA256, its own label), so both trackers hold the same CA
 * as soon as they hold the same cluster key file, and nothing secret ever
 * crosses the network. The CA certificate is deterministic too (fixed name,
 * serial and validity; Ed25519 signatures are deterministic), so both
 * trackers write the same `ca.pem`.
 */
import { x509 } from "./x509.ts";

const ED25519 = { name: "Ed25519" } as const;
/** DER prefix of a PKCS#8 Ed25519 private key; the 32-byte seed follows. */
const PKCS8_ED25519 = new Uint8Array([
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x70,
  0x04,
  0x22,
  0x04,
  0x20,
]);
/** The HKDF label of the CA key: no other key is derived with it. */
const CA_LABEL = "shoal cluster CA v1";
/** The CA's name in every certificate it signs. */
export const CA_NAME = "CN=shoal cluster CA";
const CA_NOT_BEFORE = new Date(Date.UTC(2025, 0, 1));
const CA_NOT_AFTER = new Date(Date.UTC(2125, 0, 1));

/** The CA: its certificate (PEM) and signing key. */
export interface ClusterCa {
  certPem: string;
  cert: x509.X509Certificate;
  signingKey: CryptoKey;
}

/** Derives the cluster CA from the cluster key's bytes. */
export async function deriveCa(clusterKey: Uint8Array<ArrayBuffer>): Promise<ClusterCa> {
  const ikm = await crypto.subtle.importKey("raw", clusterKey, "HKDF", false, ["deriveBits"]);
  const seed = new Uint8Array(
    await crypto.subtle.deriveBits(
      {
        name: "HKDF",
        hash: "SHA-256",
        salt: new Uint8Array(32),
        info: new TextEncoder().encode(CA_LABEL),
      },
      ikm,
      256,
    ),
  );
  const pkcs8 = new Uint8Array(PKCS8_ED25519.length + 32);
  pkcs8.set(PKCS8_ED25519);
  pkcs8.set(seed, PKCS8_ED25519.length);
  const signingKey = await crypto.subtle.importKey("pkcs8", pkcs8, ED25519, true, ["sign"]);
  const jwk = await crypto.subtle.exportKey("jwk", signingKey);
  const publicKey = await crypto.subtle.importKey(
    "jwk",
    { kty: "OKP", crv: "Ed25519", x: jwk.x },
    ED25519,
    true,
    ["verify"],
  );
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: CA_NAME,
    notBefore: CA_NOT_BEFORE,
    notAfter: CA_NOT_AFTER,
    keys: { privateKey: signingKey, publicKey },
    signingAlgorithm: ED25519,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
    ],
  });
  return { certPem: cert.toString("pem"), cert, signingKey };
}

/** What a certificate the CA issues says. */
export interface CertRequest {
  /** The holder's public key (Ed25519). */
  publicKey: CryptoKey;
  /** `tracker 1`, or the user a peer identity belongs to. */
  name: string;
  /** The IP addresses it may serve on (subject alternative names). */
  ips: string[];
  notBefore: Date;
  notAfter: Date;
  /** Hex serial; a peer identity's says where in the log it was issued. */
  serial: string;
}

/** Issues a certificate for a TLS server and client, signed by the CA, as PEM. */
export async function issueCert(ca: ClusterCa, req: CertRequest): Promise<string> {
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: req.serial,
    subject: [{ CN: [req.name] }],
    issuer: ca.cert.subject,
    notBefore: req.notBefore,
    notAfter: req.notAfter,
    signingKey: ca.signingKey,
    publicKey: req.publicKey,
    signingAlgorithm: ED25519,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
      new x509.SubjectAlternativeNameExtension(
        req.ips.map((ip) => ({ type: "ip" as const, value: ip })),
      ),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  return cert.toString("pem");
}
