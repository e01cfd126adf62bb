/**
 * The tracker's own TLS certificate: issued by the cluster CA at start for a
 * fresh key, naming `tracker <n>` and the tracker's IP from tracker_info.
 */
import { ConfigError } from "../../shared/errors.ts";
import { bytesToHex } from "../../shared/hex.ts";
import { type ClusterCa, issueCert } from "../../shared/tls/ca.ts";
import { newKeyPair } from "../../shared/tls/keys.ts";

/** How long a tracker certificate is valid. */
export const TRACKER_CERT_TTL_MS = 365 * 24 * 3600_000;
/** How far back a certificate's validity starts, for clocks a little behind. */
export const CERT_BACKDATE_MS = 5 * 60_000;
const SERIAL_BYTES = 16;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** A certificate and its private key, both PEM: what `Deno.listenTls` takes. */
export interface TlsIdentity {
  cert: string;
  key: string;
}

/**
 * Issues tracker `n`'s certificate for `ip` with a fresh key. Throws
 * {@linkcode ConfigError} when `ip` is a host name: clients check the IP.
 */
export async function trackerIdentity(
  ca: ClusterCa,
  opts: { n: number; ip: string; now?: number },
): Promise<TlsIdentity> {
  if (!isIpLiteral(opts.ip)) {
    throw new ConfigError(
      `tracker ${opts.n}'s address ${opts.ip} must be an IP address: its TLS certificate names it`,
    );
  }
  const pair = await newKeyPair();
  const now = opts.now ?? Date.now();
  const cert = await issueCert(ca, {
    publicKey: pair.publicKey,
    name: `tracker ${opts.n}`,
    ips: [opts.ip],
    notBefore: new Date(now - CERT_BACKDATE_MS),
    notAfter: new Date(now + TRACKER_CERT_TTL_MS),
    serial: randomSerial(),
  });
  return { cert, key: pair.keyPem };
}

/** A random positive certificate serial, as hex. */
export function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(SERIAL_BYTES));
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytesToHex(bytes);
}

/** Whether `host` is an IPv4 or IPv6 literal (what a certificate's IP names hold). */
export function isIpLiteral(host: string): boolean {
  return IPV4.test(host) || host.includes(":");
}
