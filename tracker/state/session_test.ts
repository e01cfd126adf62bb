import assert from "node:assert/strict";
import {
  Client,
  Cluster,
  IDENTITY,
  IDENTITY_ID,
  waitFor,
  withPrimary,
} from "../replication/_test_cluster.ts";

Deno.test("a logged-out user's token is refused on both trackers, also after a failover", async () => {
  const c = await Cluster.create();
  try {
    const t1 = await c.start(1);
    await waitFor("tracker 1 primary", () => t1.node.role === "primary");
    await c.start(2);
    await c.settled(1);
    const client = await Client.connect(c.endpoints[0], c.caPem);
    let token: string;
    try {
      await client.ok("create_user", { user: "alice", password: "pw" });
      token = (await client.ok("login", {
        user: "alice",
        password: "pw",
        addr: "10.0.0.1:7000",
        pubkey: IDENTITY.spki,
      }))
        .token as string;
      assert.equal((await client.ok("whoami", {}, token)).user, "alice");
      await client.ok("logout", {}, token);
      const res = await client.request("whoami", {}, token);
      assert.equal(res.ok, false);
      assert.equal(res.error, "not logged in");
    } finally {
      await client.close();
    }
    // The secondary holds the same sessions: with tracker 1 gone the token stays dead.
    assert.equal(c.tracker(2).node.state.session(token), undefined);
    await c.stop(1);
    await waitFor("tracker 2 primary", () => c.tracker(2).node.role === "primary");
    const other = await Client.connect(c.endpoints[1], c.caPem);
    try {
      const res = await other.request("create_group", { group: "g" }, token);
      assert.equal(res.ok, false);
      assert.equal(res.error, "not logged in");
    } finally {
      await other.close();
    }
  } finally {
    await c.close();
  }
});

Deno.test("a member who left the group gets no new grant", async () => {
  await withPrimary(async (_c, client) => {
    const alice = await client.signUp("alice", "10.0.0.1:7000");
    const bob = await client.signUp("bob", "10.0.0.2:7000");
    await client.ok("create_group", { group: "g" }, alice);
    await client.ok("join_group", { group: "g" }, bob);
    await client.ok("accept_request", { group: "g", user: "bob" }, alice);
    await client.ok("share_file", {
      group: "g",
      name: "f",
      size: 10,
      pieceSize: 524288,
      pieces: "a".repeat(40),
      sha1: "b".repeat(40),
    }, alice);
    assert.ok(
      (await client.ok("lookup_file", { group: "g", name: "f", id: IDENTITY_ID }, bob)).grant,
    );
    await client.ok("leave_group", { group: "g" }, bob);
    const res = await client.request(
      "lookup_file",
      { group: "g", name: "f", id: IDENTITY_ID },
      bob,
    );
    assert.equal(res.ok, false);
    assert.equal(res.error, "not a member of group g");
  });
});
