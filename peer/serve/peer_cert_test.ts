import assert from "node:assert/strict";
import { certInfo } from "../../shared/tls/cert_info.ts";
import { x509 } from "../../shared/tls/x509.ts";
import { positionSerial } from "../../shared/tls/serial.ts";
import { peerCert } from "./peer_cert.ts";
import { testCa, testIdentity } from "./_test_identities.ts";

Deno.test("peerCert() reads the name, serial and key id that certInfo() reads", async () => {
  const serial = positionSerial({ ep: 3, idx: 1234 });
  const { cert } = await testIdentity(await testCa(), "alice.b-2", { serial });
  const der = new Uint8Array(new x509.X509Certificate(cert).rawData);
  const want = await certInfo(cert);
  assert.deepEqual(peerCert(der), { name: want.name, serial: want.serial, keyId: want.keyId });
  assert.equal(want.serial, serial);
  assert.throws(() => peerCert(new Uint8Array([1, 2, 3])));
});
