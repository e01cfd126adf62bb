import assert from "node:assert/strict";
import { ConfigError } from "../../shared/errors.ts";
import type { Grant } from "../../shared/grant.ts";
import { decodeCertAnswer, decodeLoginAnswer } from "../../shared/protocol/client_answers.ts";
import { deriveCa } from "../../shared/tls/ca.ts";
import { certInfo, signedBy } from "../../shared/tls/cert_info.ts";
import { newKeyPair } from "../../shared/tls/keys.ts";
import { serialPosition } from "../../shared/tls/serial.ts";
import { Cluster, IDENTITY, IDENTITY_ID, withPrimary } from "../replication/_test_cluster.ts";
import { BAD_PUBKEY } from "./identity.ts";
import { LOOKUP_NEEDS_ID } from "./requests.ts";

const SHA1 = "ab".repeat(20);

Deno.test("login needs a public key and answers a certificate for it, the user and the address's IP", async () => {
  await withPrimary(async (c, client) => {
    await client.ok("create_user", { user: "alice", password: "pw" });
    const args = { user: "alice", password: "pw", addr: "10.0.0.1:7000" };
    const before = c.tracker(1).node.state.index;
    for (const pubkey of [undefined, "junk", 12]) {
      const res = await client.request("login", { ...args, pubkey });
      assert.equal(res.ok, false);
      assert.equal(res.error, BAD_PUBKEY);
    }
    // A refused login made no session.
    assert.equal(c.tracker(1).node.state.index, before);
    const answer = decodeLoginAnswer(await client.ok("login", { ...args, pubkey: IDENTITY.spki }));
    const info = await certInfo(answer.cert);
    assert.equal(info.name, "alice");
    assert.deepEqual(info.ips, ["10.0.0.1"]);
    assert.equal(info.keyId, IDENTITY_ID);
    assert.ok(await signedBy(answer.cert, c.caPem, new Date()));
    const at = serialPosition(info.serial);
    assert.ok(at && at.idx > before, `serial ${info.serial} names the login's position`);
  });
});

Deno.test("renew_cert answers a fresh certificate for the session's user and address, to sessions only", async () => {
  await withPrimary(async (c, client) => {
    const token = await client.signUp("bob", "10.0.0.2:7001");
    const next = await newKeyPair();
    const { cert } = decodeCertAnswer(
      await client.ok("renew_cert", { pubkey: next.spki }, token),
    );
    const info = await certInfo(cert);
    assert.equal(info.name, "bob");
    assert.deepEqual(info.ips, ["10.0.0.2"]);
    assert.notEqual(info.keyId, IDENTITY_ID);
    assert.ok(await signedBy(cert, c.caPem, new Date()));
    const bad = await client.request("renew_cert", { pubkey: "x" }, token);
    assert.deepEqual([bad.ok, bad.error], [false, BAD_PUBKEY]);
    const stranger = await client.request("renew_cert", { pubkey: next.spki }, "f".repeat(64));
    assert.deepEqual([stranger.ok, stranger.error], [false, "not logged in"]);
  });
});

Deno.test("lookup_file needs the asking identity's id, and the grant names it", async () => {
  await withPrimary(async (_c, client) => {
    const t = await client.signUp("carol", "10.0.0.3:7000");
    await client.ok("create_group", { group: "g" }, t);
    await client.ok("share_file", {
      group: "g",
      name: "f",
      size: 10,
      pieceSize: 16384,
      pieces: SHA1,
      sha1: SHA1,
    }, t);
    for (const id of [undefined, "", "short", 5]) {
      const res = await client.request("lookup_file", { group: "g", name: "f", id }, t);
      assert.deepEqual([res.ok, res.error], [false, LOOKUP_NEEDS_ID]);
    }
    const data = await client.ok("lookup_file", { group: "g", name: "f", id: IDENTITY_ID }, t);
    const grant = JSON.parse((data.grant as { grant: string }).grant) as Grant;
    assert.equal(grant.user, "carol");
    assert.equal(grant.id, IDENTITY_ID);
  });
});

Deno.test("a tracker whose tracker_info folder holds another cluster's ca.pem refuses to start", async () => {
  const c = await Cluster.create();
  try {
    const other = await deriveCa(crypto.getRandomValues(new Uint8Array(32)));
    await Deno.writeTextFile(`${c.dir}/ca.pem`, other.certPem);
    await assert.rejects(
      c.start(1),
      (err: Error) =>
        err instanceof ConfigError &&
        err.message === `${c.dir}/ca.pem is the CA of another cluster key`,
    );
  } finally {
    await c.close();
  }
});

Deno.test("a tracker writes the cluster's ca.pem beside tracker_info", async () => {
  const c = await Cluster.create();
  try {
    await c.start(1);
    assert.equal(await Deno.readTextFile(`${c.dir}/ca.pem`), c.caPem);
    await c.start(2);
    await c.settled(1);
  } finally {
    await c.close();
  }
});
