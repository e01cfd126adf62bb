/**
 * What the piece server reads of a downloader's client certificate, once the
 * TLS handshake has checked it against the CA: the user it names, its serial
 * (where in the log it was issued) and the identity of its key (base64
 * SHA-256 of the SubjectPublicKeyInfo, as shared/tls/cert_info.ts `keyIdOf`).
 * Read with node:crypto, which this thread has loaded anyway (the verify
 * host's hashes), rather than @peculiar/x509 (about 12 MiB more per isolate).
 */
import { createHash, X509Certificate } from "node:crypto";
import type { CertInfo } from "../../shared/tls/cert_info.ts";

/** The parts of a client certificate the piece server checks grants against. */
export type PeerCert = Pick<CertInfo, "name" | "serial" | "keyId">;

/** Reads a DER certificate; throws on anything that is not one. */
export function peerCert(der: Uint8Array): PeerCert {
  const cert = new X509Certificate(der);
  const cn = cert.subject.split("\n").find((part) => part.startsWith("CN="));
  const spki = cert.publicKey.export({ type: "spki", format: "der" });
  return {
    name: cn ? cn.slice("CN=".length) : "",
    // node:crypto drops a leading zero digit; the serial is read as whole bytes elsewhere.
    serial: evenDigits(cert.serialNumber.toLowerCase()),
    keyId: createHash("sha256").update(spki).digest("base64"),
  };
}

function evenDigits(hex: string): string {
  return hex.length % 2 === 1 ? `0${hex}` : hex;
}
