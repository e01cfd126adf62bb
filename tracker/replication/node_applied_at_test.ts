import assert from "node:assert/strict";
import { isoMicros } from "../server/console.ts";
import { Client, Cluster, IDENTITY, waitFor } from "./_test_cluster.ts";

const unixMs = () => performance.timeOrigin + performance.now();

Deno.test("status().appliedAt: the secondary applies a write before the primary answers it", async () => {
  const c = await Cluster.create();
  try {
    const t1 = await c.start(1);
    await waitFor("tracker 1 alone to be primary", () => t1.node.role === "primary");
    const t2 = await c.start(2);
    await c.settled(1);
    const client = await Client.connect(c.endpoints[0], c.caPem);
    try {
      await client.ok("create_user", { user: "alice", password: "alice-pw" });
      const { token } = await client.ok("login", {
        user: "alice",
        password: "alice-pw",
        addr: "10.0.0.1:7000",
        pubkey: IDENTITY.spki,
      });
      const sent = unixMs();
      const res = await t1.node.handleRequest({
        t: "req",
        id: "applied-1",
        cmd: "create_group",
        args: { group: "g" },
        token,
      });
      const answered = unixMs();
      assert.equal(res.ok, true);
      const primary = t1.node.status(), secondary = t2.node.status();
      assert.equal(secondary.index, primary.index);
      const at1 = primary.appliedAt as number, at2 = secondary.appliedAt as number;
      assert.ok(sent <= at1 && at1 <= at2 && at2 <= answered, `${sent} ${at1} ${at2} ${answered}`);
    } finally {
      await client.close();
    }
  } finally {
    await c.close();
  }
});

Deno.test("isoMicros() keeps the microseconds of a Unix time in ms", () => {
  assert.equal(isoMicros(1_795_616_837_963.4097), "2026-11-25T14:27:17.963409Z");
  assert.equal(isoMicros(0.001), "1970-01-01T00:00:00.000001Z");
});
