import assert from "node:assert/strict";
import { deriveCa, issueCert } from "./ca.ts";
import { certInfo } from "./cert_info.ts";
import { newKeyPair } from "./keys.ts";
import { positionSerial, serialPosition } from "./serial.ts";

Deno.test("positionSerial() names the log position, read back by serialPosition(), and is unique", () => {
  for (
    const at of [{ ep: 0, idx: 0 }, { ep: 3, idx: 1234 }, { ep: 2 ** 32 - 1, idx: 2 ** 48 - 1 }]
  ) {
    assert.deepEqual(serialPosition(positionSerial(at)), at);
  }
  assert.notEqual(positionSerial({ ep: 1, idx: 1 }), positionSerial({ ep: 1, idx: 1 }));
  assert.throws(() => positionSerial({ ep: -1, idx: 0 }), RangeError);
  assert.throws(() => positionSerial({ ep: 0, idx: 2 ** 48 }), RangeError);
  assert.equal(serialPosition("0a01"), null);
  assert.equal(serialPosition("02" + "0".repeat(36)), null);
});

Deno.test("a certificate's serial still names its log position after @peculiar/x509 reads it", async () => {
  const ca = await deriveCa(crypto.getRandomValues(new Uint8Array(32)));
  const kp = await newKeyPair();
  const now = Date.now();
  const pem = await issueCert(ca, {
    publicKey: kp.publicKey,
    name: "alice",
    ips: [],
    notBefore: new Date(now),
    notAfter: new Date(now + 60_000),
    serial: positionSerial({ ep: 7, idx: 99 }),
  });
  assert.deepEqual(serialPosition((await certInfo(pem)).serial), { ep: 7, idx: 99 });
});
