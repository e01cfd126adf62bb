/**
 * Catch-up with shares of very large files: a 100 GiB file in 512 KiB pieces
 * has 204,800 piece hashes, 8 MB of hex in its share_file op, so ten of them
 * make a log batch and a snapshot over the 64 MiB frame limit of the link.
 * The shares are asked in-process: a client's 1 MiB request frame could not
 * carry them. Both trackers share this process, whose event loop each big
 * batch holds for a while: the link runs on 1 s heartbeats, as in production.
 */
import assert from "node:assert/strict";
import { MAX_LINK_FRAME, PIECE_SIZE } from "../../shared/constants.ts";
import type { TrackerNode } from "./node.ts";
import { Cluster, IDENTITY, waitFor } from "./_test_cluster.ts";

const GIB = 2 ** 30;
/** Shares of 100 GiB files: together over the frame limit. */
const SHARES = 10;
/** Catch-up of some 80 MB on loopback, under a loaded test machine. */
const CATCH_UP_MS = 30_000;
/** The default timing of `shoal tracker`. */
const TIMING = { heartbeatMs: 1000, graceMs: 1000 };

let seq = 0;

async function ask(node: TrackerNode, cmd: string, args: Record<string, unknown>, token?: string) {
  const res = await node.handleRequest({ t: "req", id: `large-${++seq}`, cmd, args, token });
  assert.equal(res.ok, true, `${cmd}: ${res.error}`);
  return res.data as Record<string, unknown>;
}

/** Arguments of share_file for the `i`th 100 GiB file. */
function bigShare(i: number): Record<string, unknown> {
  const size = 100 * GIB;
  const digest = (i + 1).toString(16).padStart(40, "0");
  return {
    group: "g",
    name: `big-${i}.img`,
    size,
    pieceSize: PIECE_SIZE,
    pieces: digest.repeat(Math.ceil(size / PIECE_SIZE)),
    sha1: digest,
  };
}

/** Has alice share `count` big files from `from` on (concurrently: one flush carries them). */
async function shareBig(node: TrackerNode, token: string, from: number, count: number) {
  await Promise.all(
    Array.from({ length: count }, (_, i) => ask(node, "share_file", bigShare(from + i), token)),
  );
}

/** Creates alice and her group on the primary; returns her token. */
async function populate(node: TrackerNode): Promise<string> {
  await ask(node, "create_user", { user: "alice", password: "pw" });
  const { token } = await ask(node, "login", {
    user: "alice",
    password: "pw",
    addr: "10.0.0.1:1",
    pubkey: IDENTITY.spki,
  });
  await ask(node, "create_group", { group: "g" }, token as string);
  return token as string;
}

function assertSameState(a: TrackerNode, b: TrackerNode): void {
  assert.equal(a.state.index, b.state.index);
  assert.equal(a.state.files.size, b.state.files.size);
  assert.deepEqual(a.state.toSnapshot(), b.state.toSnapshot());
}

Deno.test("a secondary catches up from a log whose big shares pass the frame limit, then follows them live", async () => {
  assert.ok(SHARES * (bigShare(0).pieces as string).length > MAX_LINK_FRAME);
  const c = await Cluster.create(TIMING);
  try {
    const t1 = await c.start(1);
    await waitFor("tracker 1 primary", () => t1.node.role === "primary");
    const token = await populate(t1.node);
    await shareBig(t1.node, token, 0, SHARES);
    const t2 = await c.startWithStore(2, {});
    await waitFor("tracker 2 caught up", () => t2.node.state.files.size === SHARES, CATCH_UP_MS);
    await c.settled(1);
    assertSameState(t1.node, t2.node);
    assert.equal(t2.store!.firstIndex(), 1, "caught up from the log, not a snapshot");
    // Live: ten more in one flush, each answered once the secondary has it.
    await shareBig(t1.node, token, SHARES, SHARES);
    assert.equal(t2.node.state.files.size, 2 * SHARES);
    assertSameState(t1.node, t2.node);
  } finally {
    await c.close();
  }
});

Deno.test("a secondary catches up from a snapshot of big shares that passes the frame limit", async () => {
  const c = await Cluster.create(TIMING);
  try {
    // Tracker 1 snapshots every 3 entries and keeps 1 entry before the snapshot.
    const t1 = await c.startWithStore(1, { snapshotEvery: 3, keepLog: 1 });
    await waitFor("tracker 1 primary", () => t1.node.role === "primary");
    const token = await populate(t1.node);
    for (let i = 0; i < SHARES; i++) await shareBig(t1.node, token, i, 1);
    assert.ok(t1.store!.firstIndex() > 1, "the primary's log was compacted");
    assert.ok(JSON.stringify(t1.node.state.toSnapshot()).length > MAX_LINK_FRAME);
    const t2 = await c.startWithStore(2, {});
    await waitFor("tracker 2 caught up", () => t2.node.state.files.size === SHARES, CATCH_UP_MS);
    await c.settled(1);
    assertSameState(t1.node, t2.node);
    assert.equal(t2.store!.entry(1), undefined, "caught up from a snapshot");
  } finally {
    await c.close();
  }
});
