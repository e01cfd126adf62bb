/** Tests of the peer identity: its key, the certificate it holds, and its renewal. */
import assert from "node:assert/strict";
import { issueCert } from "../../shared/tls/ca.ts";
import { keyIdOf } from "../../shared/tls/cert_info.ts";
import { importSpki } from "../../shared/tls/keys.ts";
import { testCa } from "../serve/_test_identities.ts";
import { IdentityError, PeerIdentity } from "./identity.ts";
import type { TrackerResult } from "./tracker_client.ts";

const HOUR = 3_600_000;

/** A tracker stand-in that certifies the key it is sent; the identity's certificates live `ttlMs`. */
async function setUp(ttlMs = HOUR) {
  const ca = await testCa();
  const asked: Record<string, unknown>[] = [];
  const certify = async (pubkey: string) =>
    await issueCert(ca, {
      publicKey: await importSpki(pubkey),
      name: "alice",
      ips: ["127.0.0.1"],
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + HOUR),
      serial: "0b",
    });
  let refuse = false;
  const client = {
    request: async (cmd: string, args: Record<string, unknown>): Promise<TrackerResult> => {
      asked.push({ cmd, ...args });
      if (refuse) return { ok: false, error: "not logged in" };
      return { ok: true, data: { cert: await certify(String(args.pubkey)) } };
    },
  };
  const id = await PeerIdentity.create({ ca: ca.certPem, client, ttlMs });
  return { ca, id, asked, certify, refuseFromNow: () => refuse = true };
}

Deno.test("PeerIdentity: its key is an Ed25519 key whose id is keyIdOf its SPKI; a PEM certificate is taken and shown with it", async () => {
  const { ca, id, certify } = await setUp();
  assert.equal(id.keyId, await keyIdOf(id.pubkey));
  await importSpki(id.pubkey);
  assert.equal(id.tls, null);
  await assert.rejects(id.take("not a certificate"), IdentityError);
  const seen: (string | null)[] = [];
  id.onChange((tls) => seen.push(tls?.cert ?? null));
  const cert = await certify(id.pubkey);
  await id.take(cert);
  const tls = id.tls as { caCerts: string[]; cert: string; key: string } | null;
  assert.deepEqual(tls?.caCerts, [ca.certPem]);
  assert.equal(tls?.cert, cert);
  // Deno's TLS takes the key with the certificate: the pair is usable.
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key: tls!.key });
  listener.close();
  id.drop();
  assert.deepEqual(seen, [cert, null]);
  assert.equal(id.tls, null);
  id.close();
});

Deno.test("PeerIdentity renews once two thirds of the certificate's life have passed", async () => {
  const { id, asked } = await setUp(1800);
  const seen: (string | null)[] = [];
  id.onChange((tls) => seen.push(tls?.cert ?? null));
  await id.renew();
  assert.deepEqual(asked.map((a) => a.cmd), ["renew_cert"]);
  assert.equal(asked[0]?.pubkey, id.pubkey);
  // A life of 1.8 s: renewed every 1.2 s.
  const deadline = Date.now() + 5000;
  while (seen.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  id.close();
  assert.ok(asked.length >= 3, `renewed ${asked.length - 1} times`);
  assert.ok(seen.length >= 3 && seen.every((c) => c !== null));
});

Deno.test("PeerIdentity: a refused renewal keeps the certificate until it runs out, then drops it", async () => {
  const { id, refuseFromNow } = await setUp(1800);
  await id.renew();
  refuseFromNow();
  await assert.rejects(id.renew(), /cannot renew the identity certificate: not logged in/);
  assert.notEqual(id.tls, null);
  const deadline = Date.now() + 5000;
  while (id.tls !== null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(id.tls, null);
  id.close();
});
