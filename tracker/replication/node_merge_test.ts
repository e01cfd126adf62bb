import assert from "node:assert/strict";
import type { Message } from "../../shared/frame.ts";
import type { Endpoint } from "../../shared/tracker_info.ts";
import { loadClusterKey } from "./cluster_key.ts";
import { dialLink } from "./link.ts";
import { MERGE_TAIL_KEY } from "./merge_tail.ts";
import type { NodeObserver, TrackerNode } from "./node.ts";
import type { LogEntry } from "../state/ops.ts";
import { Store } from "../store/store.ts";
import { Client, Cluster, Gate, GRACE_MS, waitFor } from "./_test_cluster.ts";

/** Thrown by a test observer to break the link at a chosen moment (as a crash there would). */
class Crash extends Error {}

/** Starts tracker `n` in-process with an optional observer; the cluster stops it. */
async function startNode(
  c: Cluster,
  n: 1 | 2,
  trackers: [Endpoint, Endpoint],
  observer?: Partial<NodeObserver>,
): Promise<TrackerNode> {
  return (await c.startWithStore(n, {}, trackers, observer)).node;
}

async function createUser(c: Cluster, n: 1 | 2, user: string, id: string): Promise<void> {
  const client = await Client.connect(c.endpoints[n - 1]!, c.caPem);
  try {
    const res = await client.request(
      "create_user",
      { user, password: `pw-${user}` },
      undefined,
      id,
    );
    assert.equal(res.ok, true, `create_user ${user} on tracker ${n}: ${res.error}`);
  } finally {
    await client.close();
  }
}

/** What tracker `n`'s data folder holds (it must be stopped): the kept tail and the log. */
function onDisk(c: Cluster, n: 1 | 2): { tail: string | undefined; log: LogEntry[] } {
  const store = new Store(`${c.dataDir(n)}/tracker.db`);
  try {
    return { tail: store.getMeta(MERGE_TAIL_KEY), log: store.entriesAfter(0, 10_000) };
  } finally {
    store.close();
  }
}

/**
 * Partitions the pair behind gates, has each tracker acknowledge a write alone
 * (tracker 1 "one", tracker 2 "two"), then heals with tracker 1 observed by
 * `observer` until it crashes (throws {@linkcode Crash}); the gates are shut
 * again and tracker 1 stopped at that moment. Tracker 2 (epoch 2) wins.
 */
async function splitThenCrash(
  c: Cluster,
  gates: [Gate, Gate],
  crashWhen: Partial<Record<"reset" | "applied", (entry?: LogEntry) => boolean>>,
): Promise<TrackerNode> {
  const [to1, to2] = gates;
  let crashed = false;
  let t1: TrackerNode | null = null;
  const crash = () => {
    crashed = true;
    to1.open = false;
    to2.open = false;
    // Nothing more happens on tracker 1: no link is taken into use after this.
    void t1!.stop();
    throw new Crash("simulated crash");
  };
  t1 = await startNode(c, 1, [c.endpoints[0], to2.endpoint], {
    reset: () => {
      if (!crashed && crashWhen.reset?.()) crash();
    },
    applied: (e) => {
      if (!crashed && crashWhen.applied?.(e)) crash();
    },
  });
  const t2 = await startNode(c, 2, [to1.endpoint, c.endpoints[1]]);
  await waitFor("both primary", () => t1!.role === "primary" && t2.role === "primary");
  await createUser(c, 1, "one", "req-one");
  await createUser(c, 2, "two", "req-two");
  to1.open = true;
  to2.open = true;
  await waitFor("tracker 1 to crash", () => crashed);
  await c.stop(1);
  return t2;
}

Deno.test("a tracker stopped after keeping its own writes, before adopting the snapshot, merges them after a restart", async () => {
  const c = await Cluster.create();
  const gates: [Gate, Gate] = [new Gate(c.endpoints[0]), new Gate(c.endpoints[1])];
  try {
    const t2 = await splitThenCrash(c, gates, { reset: () => true });
    // On disk: its own log as it was, and the kept write.
    const disk = onDisk(c, 1);
    assert.ok(disk.tail?.includes("req-one"), `kept tail: ${disk.tail}`);
    assert.ok(disk.log.some((e) => e.reqId === "req-one"), "the log was not replaced yet");
    assert.equal(t2.state.users.has("one"), false);
    gates[0].open = gates[1].open = true;
    await startNode(c, 1, [c.endpoints[0], gates[1].endpoint]);
    await waitFor("the write merged", () => t2.state.users.has("one"));
    await c.settled(2);
    const t1 = c.tracker(1).node;
    assert.deepEqual(t1.state.toSnapshot(), t2.state.toSnapshot());
    assert.deepEqual(t2.state.conflicts, []);
    await waitFor("the kept tail cleared", () => t1.status().mergePending === 0);
    await c.stop(1);
    assert.equal(onDisk(c, 1).tail, undefined);
  } finally {
    await c.close();
    await Promise.all(gates.map((g) => g.close()));
  }
});

Deno.test("a tracker stopped before the primary confirmed the merge sends it again; the primary applies it once", async () => {
  const c = await Cluster.create();
  const gates: [Gate, Gate] = [new Gate(c.endpoints[0]), new Gate(c.endpoints[1])];
  try {
    // Crash as the merged entry comes back from the primary (before "merged").
    const t2 = await splitThenCrash(c, gates, {
      applied: (e) => e?.reqId === "req-one" && e.epoch === 2,
    });
    assert.ok(t2.state.users.has("one"), "the primary merged the write");
    const merged = t2.state.index;
    const disk = onDisk(c, 1);
    assert.ok(disk.tail?.includes("req-one"), "still kept: the merge was not confirmed");
    assert.equal(disk.log.some((e) => e.reqId === "req-one"), false, "the snapshot was adopted");
    gates[0].open = gates[1].open = true;
    const t1 = await startNode(c, 1, [c.endpoints[0], gates[1].endpoint]);
    await waitFor("the kept tail cleared", () => t1.status().mergePending === 0);
    await c.settled(2);
    assert.equal(t2.state.index, merged, "the second merge appended nothing");
    assert.deepEqual(t1.state.toSnapshot(), t2.state.toSnapshot());
    await c.stop(2);
    assert.equal(onDisk(c, 2).log.filter((e) => e.reqId === "req-one").length, 1);
  } finally {
    await c.close();
    await Promise.all(gates.map((g) => g.close()));
  }
});

Deno.test("a tracker holding unmerged writes that becomes primary merges them itself", async () => {
  const c = await Cluster.create();
  const gates: [Gate, Gate] = [new Gate(c.endpoints[0]), new Gate(c.endpoints[1])];
  try {
    await splitThenCrash(c, gates, { applied: (e) => e?.reqId === "req-one" && e.epoch === 2 });
    // The primary goes away too; tracker 1 comes back alone and is promoted.
    await c.stop(2);
    const t1 = await startNode(c, 1, [c.endpoints[0], gates[1].endpoint]);
    assert.equal(t1.status().mergePending, 1);
    await new Promise((r) => setTimeout(r, 2 * GRACE_MS));
    t1.forcePromote();
    assert.equal(t1.role, "primary");
    assert.ok(t1.state.users.has("one") && t1.state.users.has("two"));
    assert.equal(t1.status().mergePending, 0);
    assert.deepEqual(t1.state.conflicts, []);
    // The other comes back: its copy of the merged write has the same request id.
    gates[0].open = gates[1].open = true;
    const t2 = await startNode(c, 2, [gates[0].endpoint, c.endpoints[1]]);
    await c.settled(1);
    assert.deepEqual(t2.state.toSnapshot(), t1.state.toSnapshot());
    assert.deepEqual(t1.state.conflicts, []);
  } finally {
    await c.close();
    await Promise.all(gates.map((g) => g.close()));
  }
});

Deno.test("malformed sync and merge messages on the link close it with an error; the tracker serves on", async () => {
  const c = await Cluster.create();
  try {
    const t1 = await c.start(1);
    await waitFor("tracker 1 primary", () => t1.node.role === "primary");
    await createUser(c, 1, "alice", "req-a");
    const key = await loadClusterKey(`${c.dir}/cluster.key`);
    const view = { n: 2, role: "secondary", epoch: 1, index: 0, lastEpoch: 0 };
    const bad: Message[] = [
      { t: "sync", index: 3, lastEpoch: 1, runs: [[5, 1]] },
      { t: "sync", index: 3, lastEpoch: 1, runs: "all of them" },
      { t: "merge", entries: [{ index: 1, epoch: 1, op: { kind: "create_user" } }], last: true },
      { t: "merged", merged: 1 },
    ];
    for (const msg of bad) {
      const link = await dialLink(c.endpoints[0], 2, key, { caPem: c.caPem });
      try {
        await link.conn.send({ t: "state", ...view });
        if (msg.t === "merge") {
          // A merge is refused before the sender caught up, then malformed after.
          await link.conn.send({ t: "sync", index: 0, lastEpoch: 0, runs: [] });
        }
        await link.conn.send(msg);
        let timedOut = false;
        const timer = setTimeout(() => {
          timedOut = true;
          link.conn.close();
        }, 3000);
        const got: string[] = [];
        try {
          for await (const m of link.messages) got.push(String(m.t));
        } catch { /* closed */ }
        clearTimeout(timer);
        assert.equal(
          timedOut,
          false,
          `the tracker kept the link open after ${JSON.stringify(msg)}`,
        );
        assert.ok(!got.includes("merged"), `${JSON.stringify(msg)}: ${got}`);
      } finally {
        link.conn.close();
      }
    }
    assert.equal(t1.node.role, "primary");
    assert.equal(t1.node.state.users.has("alice"), true);
    await createUser(c, 1, "bob", "req-b");
  } finally {
    await c.close();
  }
});
