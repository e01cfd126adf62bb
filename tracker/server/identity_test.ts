import assert from "node:assert/strict";
import { IDENTITY_TTL_MS } from "../../shared/constants.ts";
import { deriveCa } from "../../shared/tls/ca.ts";
import { certInfo, keyIdOf, signedBy } from "../../shared/tls/cert_info.ts";
import { newKeyPair } from "../../shared/tls/keys.ts";
import { serialPosition } from "../../shared/tls/serial.ts";
import { BAD_PUBKEY, BadPubkey, IdentityIssuer, parsePubkey } from "./identity.ts";
import { trackerIdentity } from "./tracker_cert.ts";

const NOW = Date.UTC(2026, 5, 1);

Deno.test("IdentityIssuer.issue() certifies the key for the user and the IP of its address, for an hour", async () => {
  const ca = await deriveCa(crypto.getRandomValues(new Uint8Array(32)));
  const kp = await newKeyPair();
  const issuer = new IdentityIssuer(ca, () => NOW);
  const pem = await issuer.issue(
    { publicKey: kp.publicKey, user: "alice", addr: "10.0.0.1:7000" },
    {
      ep: 2,
      idx: 41,
    },
  );
  const info = await certInfo(pem);
  assert.equal(info.name, "alice");
  assert.deepEqual(info.ips, ["10.0.0.1"]);
  assert.equal(info.keyId, await keyIdOf(kp.spki));
  assert.equal(info.notAfter.getTime(), NOW + IDENTITY_TTL_MS);
  assert.ok(info.notBefore.getTime() <= NOW);
  assert.deepEqual(serialPosition(info.serial), { ep: 2, idx: 41 });
  assert.ok(await signedBy(pem, ca.certPem, new Date(NOW)));
  assert.ok(!(await signedBy(pem, ca.certPem, new Date(NOW + IDENTITY_TTL_MS + 1))));
  const v6 = await issuer.issue({ publicKey: kp.publicKey, user: "bob", addr: "[::1]:7000" }, {
    ep: 1,
    idx: 1,
  });
  assert.deepEqual((await certInfo(v6)).ips, ["::1"]);
});

Deno.test("parsePubkey() takes a base64 Ed25519 SPKI and refuses anything else", async () => {
  const kp = await newKeyPair();
  assert.equal((await parsePubkey(kp.spki)).type, "public");
  for (const bad of [undefined, 7, "", "not base64!", btoa("short"), "A".repeat(300)]) {
    await assert.rejects(parsePubkey(bad), (err: Error) => {
      assert.ok(err instanceof BadPubkey);
      assert.equal(err.message, BAD_PUBKEY);
      return true;
    });
  }
});

Deno.test("trackerIdentity() names tracker n and its IP for a year, signed by the CA", async () => {
  const ca = await deriveCa(crypto.getRandomValues(new Uint8Array(32)));
  const id = await trackerIdentity(ca, { n: 2, ip: "127.0.0.1", now: NOW });
  const info = await certInfo(id.cert);
  assert.equal(info.name, "tracker 2");
  assert.deepEqual(info.ips, ["127.0.0.1"]);
  assert.ok(info.notAfter.getTime() >= NOW + 364 * 24 * 3600_000);
  assert.ok(await signedBy(id.cert, ca.certPem, new Date(NOW)));
  assert.match(id.key, /^-----BEGIN PRIVATE KEY-----/);
  await assert.rejects(
    trackerIdentity(ca, { n: 1, ip: "localhost" }),
    /tracker 1's address localhost must be an IP address/,
  );
});
