import assert from "node:assert/strict";
import { deriveCa, issueCert } from "./ca.ts";
import { certInfo, keyIdOf, signedBy } from "./cert_info.ts";
import { newKeyPair } from "./keys.ts";

const HOUR = 3_600_000;

Deno.test("the CA derived from one cluster key is the same every time, and another key's differs", async () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const a = await deriveCa(key);
  assert.equal((await deriveCa(key)).certPem, a.certPem);
  assert.notEqual((await deriveCa(crypto.getRandomValues(new Uint8Array(32)))).certPem, a.certPem);
});

Deno.test("an issued certificate names its holder and key, and only its own CA verifies it", async () => {
  const ca = await deriveCa(crypto.getRandomValues(new Uint8Array(32)));
  const other = await deriveCa(crypto.getRandomValues(new Uint8Array(32)));
  const kp = await newKeyPair();
  const now = Date.now();
  const pem = await issueCert(ca, {
    publicKey: kp.publicKey,
    name: "alice",
    ips: ["127.0.0.1"],
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + HOUR),
    serial: "0a01",
  });
  const info = await certInfo(pem);
  assert.equal(info.name, "alice");
  assert.deepEqual(info.ips, ["127.0.0.1"]);
  assert.equal(info.keyId, await keyIdOf(kp.spki));
  assert.equal(await signedBy(pem, ca.certPem, new Date(now)), true);
  assert.equal(await signedBy(pem, other.certPem, new Date(now)), false);
  assert.equal(await signedBy(pem, ca.certPem, new Date(now + 2 * HOUR)), false);
  assert.equal(await signedBy(pem, ca.certPem, new Date(now - HOUR)), false);
});

Deno.test("Deno's TLS accepts a server certificate of the CA and refuses another CA's", async () => {
  const ca = await deriveCa(crypto.getRandomValues(new Uint8Array(32)));
  const other = await deriveCa(crypto.getRandomValues(new Uint8Array(32)));
  const kp = await newKeyPair();
  const now = Date.now();
  const cert = await issueCert(ca, {
    publicKey: kp.publicKey,
    name: "tracker 1",
    ips: ["127.0.0.1"],
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + HOUR),
    serial: "01",
  });
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key: kp.keyPem });
  const served = (async () => {
    for await (const c of listener) {
      await c.handshake().then(() => c.write(new Uint8Array([7]))).catch(() => {});
      c.close();
    }
  })();
  const port = listener.addr.port;
  const good = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [ca.certPem] });
  const buf = new Uint8Array(1);
  assert.equal(await good.read(buf), 1);
  good.close();
  const bad = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [other.certPem] });
  await assert.rejects(() => bad.handshake(), /UnknownIssuer|certificate/i);
  bad.close();
  listener.close();
  await served;
});
