/**
 * A snapshot sent in fragments to a real tracker by a stand-in primary: a
 * broken or cut transfer closes the link, and the next one starts clean.
 */
import assert from "node:assert/strict";
import { fileArgs, Harness } from "../state/_test_harness.ts";
import { loadClusterKey } from "./cluster_key.ts";
import { dialLink, type Link } from "./link.ts";
import { fragmentText } from "./link_chunks.ts";
import type { FragmentMessage } from "./link_messages.ts";
import { Cluster, waitFor } from "./_test_cluster.ts";

/** Units of text per fragment: small, so that a small snapshot takes many. */
const UNITS = 200;

/** A state with a few of every record, as the stand-in primary holds it. */
function primaryState() {
  const h = new Harness();
  const alice = h.signIn("alice");
  h.group("g", alice, { bob: h.signIn("bob") });
  for (let i = 0; i < 5; i++) h.ok("share_file", fileArgs("g", `f${i}`, { variant: i }), alice);
  return h.state;
}

/** Dials tracker 2 as a primary of epoch 5 and waits for its `sync`. */
async function linkAsPrimary(c: Cluster, index: number): Promise<Link> {
  const key = await loadClusterKey(`${c.dir}/cluster.key`);
  const link = await dialLink(c.endpoints[1], 1, key, { caPem: c.caPem });
  await link.conn.send({ t: "state", n: 1, role: "primary", epoch: 5, index, lastEpoch: 1 });
  for (;;) {
    const r = await link.messages.next();
    assert.ok(!r.done, "tracker 2 closed the link before its sync");
    if (r.value.t === "sync") return link;
  }
}

/** Waits until the tracker closes `link`; returns what it sent meanwhile. */
async function closedByTracker(link: Link): Promise<string[]> {
  const timer = setTimeout(() => link.conn.close(), 3000);
  const got: string[] = [];
  try {
    for await (const m of link.messages) got.push(m.t);
  } catch { /* closed */ }
  clearTimeout(timer);
  return got;
}

Deno.test("a broken snapshot transfer closes the link; the tracker takes the next one from the start", async () => {
  const c = await Cluster.create({ heartbeatMs: 1000, graceMs: 1000 });
  try {
    const t2 = await c.startWithStore(2, {});
    await waitFor("tracker 2 primary alone", () => t2.node.role === "primary");
    const state = primaryState();
    const text = JSON.stringify({ t: "snapshot", snap: state.toSnapshot() });
    const parts = fragmentText(text, UNITS);
    assert.ok(parts.length > 5);
    const fragment = (part: number): FragmentMessage => ({
      t: "fragment",
      part,
      parts: parts.length,
      text: parts[part]!,
    });

    // A part skipped: the tracker closes the link, sends no ack, stays behind.
    let link = await linkAsPrimary(c, state.index);
    assert.equal(t2.node.role, "secondary");
    const own = t2.node.state.toSnapshot();
    for (const part of [0, 1, 3]) await link.conn.send(fragment(part));
    assert.ok(!(await closedByTracker(link)).includes("ack"));
    assert.deepEqual(t2.node.state.toSnapshot(), own);

    // A transfer cut by the link going down halfway.
    link = await linkAsPrimary(c, state.index);
    for (let part = 0; part < 3; part++) await link.conn.send(fragment(part));
    link.conn.close();
    await waitFor(
      "the cut link gone",
      () => t2.node.status().other.connected === false,
    );
    assert.deepEqual(t2.node.state.toSnapshot(), own);
    assert.equal(t2.node.status().catchingUp, true, "it still waits to catch up");

    // The whole transfer, sent again from part 0, is adopted.
    link = await linkAsPrimary(c, state.index);
    try {
      for (let part = 0; part < parts.length; part++) await link.conn.send(fragment(part));
      await link.conn.send({ t: "synced", index: state.index });
      await waitFor("tracker 2 caught up", () => t2.node.status().catchingUp === false);
      assert.deepEqual(t2.node.state.toSnapshot(), state.toSnapshot());
      assert.equal(t2.node.role, "secondary");
    } finally {
      link.conn.close();
    }
  } finally {
    await c.close();
  }
});
