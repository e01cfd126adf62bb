import assert from "node:assert/strict";
import { formatEndpoint } from "../../shared/tracker_info.ts";
import { Store } from "../store/store.ts";
import { ClientRequests } from "../server/client_requests.ts";
import { TrackerNode } from "./node.ts";
import { loadClusterKey } from "./cluster_key.ts";
import { deriveCa } from "../../shared/tls/ca.ts";
import { Client, Cluster, GRACE_MS, IDENTITY, waitFor } from "./_test_cluster.ts";
import { fileArgs } from "../state/_test_harness.ts";

/** Creates alice, logs her in and has her share a file in her group; returns her token. */
async function populate(client: Client, user = "alice", group = "g"): Promise<string> {
  await client.ok("create_user", { user, password: `${user}-pw` });
  const { token } = await client.ok("login", {
    user,
    password: `${user}-pw`,
    addr: "10.0.0.1:7000",
    pubkey: IDENTITY.spki,
  });
  await client.ok("create_group", { group }, token as string);
  await client.ok("share_file", fileArgs(group, "f"), token as string);
  return token as string;
}

/** Creates and logs in bob; returns his token. */
async function loginBob(client: Client): Promise<string> {
  await client.ok("create_user", { user: "bob", password: "bob-pw" });
  const { token } = await client.ok("login", {
    user: "bob",
    password: "bob-pw",
    addr: "10.0.0.2:7000",
    pubkey: IDENTITY.spki,
  });
  return token as string;
}

Deno.test("a second tracker becomes secondary, catches up from the log and follows live", async () => {
  // Slower heartbeats than the other tests: under a loaded suite, a link
  // declared dead for a moment would let the primary answer alone, which
  // is right then but not what this test checks.
  const c = await Cluster.create({ heartbeatMs: 500, graceMs: 1500 });
  try {
    const t1 = await c.start(1);
    await waitFor("tracker 1 alone to be primary", () => t1.node.role === "primary");
    const client = await Client.connect(c.endpoints[0], c.caPem);
    try {
      const token = await populate(client);
      const t2 = await c.start(2);
      await c.settled(1);
      assert.equal(t2.node.status().role, "secondary");
      assert.equal(t2.node.epoch, t1.node.epoch);
      assert.deepEqual(t2.node.state.toSnapshot(), t1.node.state.toSnapshot());
      // A write is answered only once the secondary has applied it. (Asked
      // in-process: an early answer would come before the op could reach it.)
      const res = await t1.node.handleRequest({
        t: "req",
        id: "live-1",
        cmd: "create_group",
        args: { group: "later" },
        token,
      });
      assert.equal(res.ok, true);
      assert.equal(t2.node.state.groups.get("later")?.owner, "alice");
      assert.deepEqual(t2.node.state.toSnapshot(), t1.node.state.toSnapshot());
    } finally {
      await client.close();
    }
    const index = t1.node.state.index;
    await c.stop(2);
    // Caught up from the log: tracker 2's own log holds every entry from the first.
    const store = new Store(`${c.dataDir(2)}/tracker.db`);
    try {
      assert.equal(store.firstIndex(), 1);
      assert.equal(store.entriesAfter(0, 1000).length, index);
    } finally {
      store.close();
    }
  } finally {
    await c.close();
  }
});

Deno.test("a secondary whose index the primary's log no longer holds catches up from a snapshot", async () => {
  const c = await Cluster.create();
  try {
    // Tracker 1 snapshots every 3 entries and keeps 1 entry before the snapshot.
    const t1 = await c.startWithStore(1, { snapshotEvery: 3, keepLog: 1 });
    await waitFor("tracker 1 primary", () => t1.node.role === "primary");
    const client = await Client.connect(c.endpoints[0], c.caPem);
    try {
      const token = await populate(client);
      assert.ok(t1.store!.firstIndex() > 1, "the primary's log was compacted");
      // A fresh tracker 2 (index 0): the log does not reach back to entry 1.
      let t2 = await c.start(2);
      await c.settled(1);
      assert.deepEqual(t2.node.state.toSnapshot(), t1.node.state.toSnapshot());
      // Tracker 2 goes away and the primary moves on past what its log keeps.
      const left = t2.node.state.index;
      await c.stop(2);
      for (let i = 0; i < 6; i++) await client.ok("create_group", { group: `g${i}` }, token);
      assert.ok(t1.store!.firstIndex() > left + 1, "the log no longer holds the secondary's index");
      t2 = await c.start(2);
      await c.settled(1);
      assert.deepEqual(t2.node.state.toSnapshot(), t1.node.state.toSnapshot());
      // Live ops follow the adopted snapshot.
      await client.ok("join_group", { group: "g" }, await loginBob(client));
      assert.deepEqual(t2.node.state.groups.get("g")?.pending, ["bob"]);
      assert.deepEqual(t2.node.state.toSnapshot(), t1.node.state.toSnapshot());
    } finally {
      await client.close();
    }
    const expected = t1.node.state.toSnapshot();
    await c.stop(2);
    // Tracker 2 replaced its log with the snapshot, and reloads the same state from disk.
    const store = new Store(`${c.dataDir(2)}/tracker.db`);
    try {
      assert.equal(store.entry(1), undefined);
      assert.deepEqual(store.load().toSnapshot(), expected);
    } finally {
      store.close();
    }
  } finally {
    await c.close();
  }
});

Deno.test("the secondary answers not_primary and applies no client request", async () => {
  const c = await Cluster.create();
  try {
    const t1 = await c.start(1);
    await waitFor("tracker 1 primary", () => t1.node.role === "primary");
    const t2 = await c.start(2);
    await c.settled(1);
    const before = t2.node.state.toSnapshot();
    const client = await Client.connect(c.endpoints[1], c.caPem);
    try {
      for (
        const [cmd, args] of [["create_user", { user: "eve", password: "x" }], [
          "list_groups",
          {},
        ]] as const
      ) {
        const res = await client.request(cmd, args);
        assert.deepEqual(res, {
          t: "res",
          id: res.id,
          ok: false,
          code: "not_primary",
          error: "this tracker is the secondary",
          primary: formatEndpoint(c.endpoints[0]),
        });
      }
    } finally {
      await client.close();
    }
    const direct = await t2.node.handleRequest({
      t: "req",
      id: "direct-1",
      cmd: "create_user",
      args: { user: "eve", password: "x" },
    });
    assert.equal(direct.code, "not_primary");
    assert.deepEqual(t2.node.state.toSnapshot(), before);
    assert.equal(t1.node.state.users.has("eve"), false);
    assert.equal(t1.node.state.index, before.index);
  } finally {
    await c.close();
  }
});

Deno.test("stopping the primary promotes the secondary with every acknowledged write; the old one rejoins", async () => {
  const c = await Cluster.create();
  try {
    const t1 = await c.start(1);
    await waitFor("tracker 1 primary", () => t1.node.role === "primary");
    const t2 = await c.start(2);
    await c.settled(1);
    const client = await Client.connect(c.endpoints[0], c.caPem);
    let token: string;
    let created;
    try {
      created = await client.request(
        "create_user",
        { user: "bob", password: "b" },
        undefined,
        "fixed-id",
      );
      assert.equal(created.ok, true);
      token = await populate(client);
    } finally {
      await client.close();
    }
    const acknowledged = t1.node.state.toSnapshot();
    assert.ok(acknowledged.grantKey, "the first primary made a grant key");
    const oldEpoch = t2.node.epoch;
    await c.stop(1);
    await waitFor("tracker 2 to promote itself", () => t2.node.status().role === "primary");
    assert.ok(t2.node.epoch > oldEpoch, `epoch ${t2.node.epoch} after ${oldEpoch}`);
    assert.equal(t2.node.epoch % 2, 0);
    // Everything acknowledged, then the new primary's epoch entry.
    assert.deepEqual(t2.node.state.toSnapshot(), {
      ...acknowledged,
      index: acknowledged.index + 1,
      epoch: t2.node.epoch,
    });
    const next = await Client.connect(c.endpoints[1], c.caPem);
    try {
      // The session and the grant key survived the failover.
      assert.deepEqual(await next.ok("whoami", {}, token), {
        user: "alice",
        addr: "10.0.0.1:7000",
        grantKey: acknowledged.grantKey?.publicKey,
      });
      // A re-sent write is answered with its original result, not applied again.
      const again = await next.request(
        "create_user",
        { user: "bob", password: "b" },
        undefined,
        "fixed-id",
      );
      assert.deepEqual(again, created);
      assert.equal(t2.node.state.index, acknowledged.index + 1);
      await next.ok("create_user", { user: "carol", password: "c" });
      assert.ok(t2.node.state.users.has("carol"));
    } finally {
      await next.close();
    }
    // The old primary comes back as the secondary of the new epoch and catches up.
    const back = await c.start(1);
    await c.settled(2);
    assert.equal(back.node.epoch, t2.node.epoch);
    assert.deepEqual(back.node.state.toSnapshot(), t2.node.state.toSnapshot());
  } finally {
    await c.close();
  }
});

Deno.test("a write acknowledged by a lone primary survives restarting the trackers in the other order", async () => {
  const c = await Cluster.create();
  try {
    const t1 = await c.start(1);
    await waitFor("tracker 1 primary", () => t1.node.role === "primary");
    await c.start(2);
    await c.settled(1);
    await c.stop(2);
    // Tracker 1 carries on alone and acknowledges a write only it holds.
    const client = await Client.connect(c.endpoints[0], c.caPem);
    try {
      await client.ok("create_user", { user: "lone", password: "pw" });
    } finally {
      await client.close();
    }
    await c.stop(1);
    // Tracker 2 comes back first, tracker 1 a while later.
    await c.start(2);
    await new Promise((r) => setTimeout(r, 3 * GRACE_MS));
    await c.start(1);
    await c.settledAny();
    for (const n of [1, 2] as const) {
      assert.ok(c.tracker(n).node.state.users.has("lone"), `tracker ${n} lost the write`);
    }
  } finally {
    await c.close();
  }
});

Deno.test("a tracker not yet started answers unavailable, and rejects malformed requests", async () => {
  const dir = await Deno.makeTempDir({ prefix: "shoal_node_test_" });
  const store = new Store(`${dir}/tracker.db`);
  try {
    const node = new TrackerNode({
      n: 1,
      trackers: [{ hostname: "127.0.0.1", port: 1 }, { hostname: "127.0.0.1", port: 2 }],
      store,
      key: await loadClusterKey(`${dir}/cluster.key`),
      ca: await deriveCa(new Uint8Array(32)),
      heartbeatMs: 100,
      graceMs: 300,
      requests: (ctx) => new ClientRequests(ctx),
    });
    assert.equal(node.role, "starting");
    assert.deepEqual(await node.handleRequest({ t: "req", id: "1", cmd: "list_groups" }), {
      t: "res",
      id: "1",
      ok: false,
      code: "unavailable",
      error: "this tracker is not ready",
    });
    assert.deepEqual(await node.handleRequest({ t: "req", id: "", cmd: "whoami" }), {
      t: "res",
      id: null,
      ok: false,
      error: "request id must be a string of 1-128 characters",
    });
    assert.deepEqual(await node.handleRequest({ t: "req", id: "2", cmd: "nope" }), {
      t: "res",
      id: "2",
      ok: false,
      error: "unknown command nope",
    });
    const bad = await node.handleRequest({ t: "req", id: "3", cmd: "whoami", args: [] });
    assert.match(String(bad.error), /^malformed request/);
    assert.equal(node.state.index, 0);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
