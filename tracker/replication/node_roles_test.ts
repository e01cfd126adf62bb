import assert from "node:assert/strict";
import { Store } from "../store/store.ts";
import { Client, Cluster, Gate, GRACE_MS, waitFor } from "./_test_cluster.ts";

Deno.test("two trackers started together settle on one primary and one live secondary", async () => {
  const c = await Cluster.create();
  try {
    await Promise.all([c.start(1), c.start(2)]);
    const p = await c.settledAny();
    const s = p === 1 ? 2 : 1;
    const client = await Client.connect(c.endpoints[p - 1]!, c.caPem);
    try {
      await client.ok("create_user", { user: "alice", password: "pw" });
    } finally {
      await client.close();
    }
    assert.ok(c.tracker(s).node.state.users.has("alice"));
    assert.deepEqual(c.tracker(s).node.state.toSnapshot(), c.tracker(p).node.state.toSnapshot());
  } finally {
    await c.close();
  }
});

Deno.test("when two primaries meet, the later epoch stays and the other's own writes are merged into it", async () => {
  const c = await Cluster.create();
  // Each tracker reaches the other only through a gate, shut at first: a partition.
  const to1 = new Gate(c.endpoints[0]);
  const to2 = new Gate(c.endpoints[1]);
  try {
    const t1 = await c.startWithStore(1, {}, [c.endpoints[0], to2.endpoint]);
    const t2 = await c.startWithStore(2, {}, [to1.endpoint, c.endpoints[1]]);
    await waitFor(
      "both trackers primary",
      () => t1.node.role === "primary" && t2.node.role === "primary",
    );
    assert.deepEqual([t1.node.epoch, t2.node.epoch], [1, 2]);
    for (const [n, user] of [[1, "one"], [2, "two"]] as const) {
      const client = await Client.connect(c.endpoints[n - 1]!, c.caPem);
      try {
        await client.ok("create_user", { user, password: "pw" });
      } finally {
        await client.close();
      }
    }
    to1.open = true;
    to2.open = true;
    await waitFor("tracker 1's own write merged", () => t2.node.state.users.has("one"));
    await c.settled(2);
    assert.equal(t1.node.role, "secondary");
    assert.equal(t1.node.epoch, 2);
    // Tracker 1's log diverged at epoch 1: it adopted tracker 2's state, and the
    // write it acknowledged alone was applied again on tracker 2, after its own.
    assert.deepEqual(t1.node.state.toSnapshot(), t2.node.state.toSnapshot());
    assert.ok(t1.node.state.users.has("two"));
    assert.ok(t1.node.state.users.has("one"), "the lower epoch's acknowledged write is kept");
    assert.deepEqual(t2.node.state.conflicts, []);
    assert.equal(t1.node.status().mergePending, 0);
  } finally {
    await c.close();
    await to1.close();
    await to2.close();
  }
});

Deno.test("a tracker that stopped while catching up waits for the other instead of promoting", async () => {
  const c = await Cluster.create();
  try {
    await Deno.mkdir(c.dataDir(2), { recursive: true });
    const store = new Store(`${c.dataDir(2)}/tracker.db`);
    store.setMeta("syncing", "1");
    store.close();
    const t2 = await c.start(2);
    await new Promise((r) => setTimeout(r, 3 * GRACE_MS));
    assert.equal(t2.node.role, "starting");
    assert.equal(t2.node.status().catchingUp, true);
    const res = await t2.node.handleRequest({ t: "req", id: "x", cmd: "list_groups" });
    assert.equal(res.code, "unavailable");
    // The operator's `promote` overrides it.
    t2.node.forcePromote();
    assert.equal(t2.node.role, "primary");
    assert.equal(t2.node.status().catchingUp, false);
    const client = await Client.connect(c.endpoints[1], c.caPem);
    try {
      await client.ok("create_user", { user: "alice", password: "pw" });
    } finally {
      await client.close();
    }
  } finally {
    await c.close();
  }
});
