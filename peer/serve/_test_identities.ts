/**
 * Test helpers: a cluster CA and identities it (or another CA) issues, as the
 * trackers issue them at login, for the piece server's mutual-TLS tests.
 */
import { type ClusterCa, deriveCa, issueCert } from "../../shared/tls/ca.ts";
import { keyIdOf } from "../../shared/tls/cert_info.ts";
import { newKeyPair } from "../../shared/tls/keys.ts";

const HOUR = 3_600_000;

/** A certificate, its key and the key's id, as a peer holds its identity. */
export interface TestIdentity {
  cert: string;
  key: string;
  keyId: string;
}

/** A fresh cluster CA. */
export function testCa(): Promise<ClusterCa> {
  return deriveCa(crypto.getRandomValues(new Uint8Array(32)));
}

/**
 * An identity for `name` at 127.0.0.1, valid from `from` to `to` (default:
 * now ± an hour), with a random serial unless one is given.
 */
export async function testIdentity(
  ca: ClusterCa,
  name: string,
  valid: { from?: number; to?: number; serial?: string } = {},
): Promise<TestIdentity> {
  const kp = await newKeyPair();
  const now = Date.now();
  const cert = await issueCert(ca, {
    publicKey: kp.publicKey,
    name,
    ips: ["127.0.0.1"],
    notBefore: new Date(valid.from ?? now - HOUR),
    notAfter: new Date(valid.to ?? now + HOUR),
    serial: valid.serial ?? Array.from(
      crypto.getRandomValues(new Uint8Array(8)),
      (b) => b.toString(16).padStart(2, "0"),
    ).join(""),
  });
  return { cert, key: kp.keyPem, keyId: await keyIdOf(kp.spki) };
}

/** Dials `port` on 127.0.0.1 with mutual TLS as `id` (no client certificate when null). */
export async function dialAs(
  caPem: string,
  port: number,
  id: TestIdentity | null,
): Promise<Deno.TlsConn> {
  const base = { hostname: "127.0.0.1", port, caCerts: [caPem] };
  const conn = id
    ? await Deno.connectTls({ ...base, cert: id.cert, key: id.key })
    : await Deno.connectTls(base);
  return conn;
}
