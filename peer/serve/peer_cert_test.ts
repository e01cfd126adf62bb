import assert from "node:assert/strict";
import { certInfo } from "../../shared/tls/cert_info.ts";
import { x509 } from "../../shared/tls/x509.ts";
import { positionSerial } from "../../shared/tls/serial.ts";
import { issueCert } from "../../shared/tls/ca.ts";
import { newKeyPair } from "../../shared/tls/keys.ts";
import { peerCert } from "./peer_cert.ts";
import { testCa } from "./_test_identities.ts";

Deno.test("peerCert() reads the name, serial and key id that certInfo() reads", async () => {
  const ca = await testCa();
  const kp = await newKeyPair();
  const pem = await issueCert(ca, {
    publicKey: kp.publicKey,
    name: "alice.b-2",
    ips: ["127.0.0.1"],
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 60_000),
    serial: positionSerial({ ep: 3, idx: 1234 }),
  });
  const der = new Uint8Array(new x509.X509Certificate(pem).rawData);
  const want = await certInfo(pem);
  assert.deepEqual(peerCert(der), { name: want.name, serial: want.serial, keyId: want.keyId });
  assert.throws(() => peerCert(new Uint8Array([1, 2, 3])));
});
