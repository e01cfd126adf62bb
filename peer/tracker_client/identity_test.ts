/** Tests of the peer identity: what certificate it takes, and its renewal. */
import assert from "node:assert/strict";
import { issueCert } from "../../shared/tls/ca.ts";
import { importSpki } from "../../shared/tls/keys.ts";
import { testCa, testIdentity } from "../serve/_test_identities.ts";
import { IdentityError, PeerIdentity } from "./identity.ts";
import type { TrackerResult } from "./tracker_client.ts";

const HOUR = 3_600_000;

/** A tracker stand-in that certifies the key it is sent, valid for `lifeMs` from now. */
async function setUp(lifeMs = HOUR) {
  const ca = await testCa();
  const asked: Record<string, unknown>[] = [];
  const certify = async (pubkey: string, from = Date.now() - 1000) =>
    await issueCert(ca, {
      publicKey: await importSpki(pubkey),
      name: "alice",
      ips: ["127.0.0.1"],
      notBefore: new Date(from),
      notAfter: new Date(from + lifeMs),
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
  const id = await PeerIdentity.create({ ca: ca.certPem, client });
  return { ca, id, asked, certify, refuseFromNow: () => refuse = true };
}

Deno.test("PeerIdentity takes a certificate of its CA for its own key only", async () => {
  const { ca, id, certify } = await setUp();
  const other = await testCa();
  assert.equal(id.tls, null);
  await assert.rejects(id.take((await testIdentity(ca, "alice")).cert), IdentityError);
  await assert.rejects(id.take((await testIdentity(other, "alice")).cert), IdentityError);
  await assert.rejects(id.take("not a certificate"), IdentityError);
  // For its key, but valid only in an hour.
  await assert.rejects(id.take(await certify(id.pubkey, Date.now() + HOUR)), IdentityError);
  assert.equal(id.tls, null);
  const seen: (string | null)[] = [];
  id.onChange((tls) => seen.push(tls?.cert ?? null));
  const cert = await certify(id.pubkey);
  await id.take(cert);
  const tls = id.tls as { caCerts: string[]; cert: string; key: string } | null;
  assert.deepEqual(tls?.caCerts, [ca.certPem]);
  assert.equal(tls?.cert, cert);
  assert.match(tls?.key ?? "", /BEGIN PRIVATE KEY/);
  id.drop();
  assert.deepEqual(seen, [cert, null]);
  assert.equal(id.tls, null);
  id.close();
});

Deno.test("PeerIdentity renews once two thirds of the certificate's life have passed", async () => {
  const { id, asked } = await setUp(3000);
  const seen: (string | null)[] = [];
  id.onChange((tls) => seen.push(tls?.cert ?? null));
  await id.renew();
  assert.deepEqual(asked.map((a) => a.cmd), ["renew_cert"]);
  assert.equal(asked[0]?.pubkey, id.pubkey);
  // Life 3 s from a second ago (certificates count whole seconds): each is due a second later.
  const deadline = Date.now() + 5000;
  while (asked.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  id.close();
  assert.ok(asked.length >= 3, `renewed ${asked.length - 1} times`);
  assert.ok(seen.length >= 3 && seen.every((c) => c !== null));
});

Deno.test("PeerIdentity: a refused renewal keeps the certificate until it runs out, then drops it", async () => {
  const { id, refuseFromNow } = await setUp(2500);
  await id.renew();
  refuseFromNow();
  await assert.rejects(id.renew(), /cannot renew the identity certificate: not logged in/);
  assert.notEqual(id.tls, null);
  const deadline = Date.now() + 5000;
  while (id.tls !== null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(id.tls, null);
  id.close();
});
