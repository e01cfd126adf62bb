import assert from "node:assert/strict";
import type { LogEntry } from "../state/ops.ts";
import { TrackerState } from "../state/state.ts";
import { Store } from "./store.ts";
import { fileArgs, Harness } from "../state/_test_harness.ts";

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
async function withTempDir(fn: (dir: string) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "shoal_store_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A log of 3 + 5 × `users` entries touching users, sessions, groups and files. */
function history(users: number): Harness {
  const h = new Harness();
  const owner = h.signIn("owner", "10.9.9.9:9999");
  h.ok("create_group", { group: "g" }, owner);
  for (let i = 0; i < users; i++) {
    const t = h.signIn(`u${i}`, `10.0.${i >> 8}.${i & 255}:7000`);
    h.ok("join_group", { group: "g" }, t);
    h.ok("accept_request", { group: "g", user: `u${i}` }, owner);
    h.ok("share_file", fileArgs("g", `f${i % 3}`), t);
  }
  return h;
}

/** Appends entries the way a tracker does: persist, apply, maybe compact. */
function record(store: Store, state: TrackerState, entries: LogEntry[]): void {
  for (const e of entries) {
    store.append(e);
    state.apply(e);
    store.maybeCompact(state);
  }
}

Deno.test("Store hands back appended entries by index and in ranges", async () => {
  await withTempDir((dir) => {
    const store = new Store(`${dir}/t.db`);
    try {
      assert.equal(store.firstIndex(), 0);
      assert.deepEqual(store.entriesAfter(0, 10), []);
      const entries = history(2).entries;
      assert.equal(entries.length, 13);
      delete entries[1]!.reqId;
      for (const e of entries) store.append(e);
      assert.equal(store.firstIndex(), 1);
      assert.deepEqual(store.entry(2), entries[1]);
      assert.equal("reqId" in store.entry(2)!, false);
      assert.deepEqual(store.entry(5), entries[4]);
      assert.equal(store.entry(14), undefined);
      assert.deepEqual(store.entriesAfter(0, 100), entries);
      assert.deepEqual(store.entriesAfter(4, 3), entries.slice(4, 7));
      assert.deepEqual(store.entriesAfter(12, 3), entries.slice(12));
      assert.deepEqual(store.entriesAfter(13, 3), []);
      assert.throws(() => store.append(entries[0]!));
    } finally {
      store.close();
    }
  });
});

Deno.test("Store keeps settings across reopening", async () => {
  await withTempDir((dir) => {
    const first = new Store(`${dir}/t.db`);
    assert.equal(first.getMeta("epoch"), undefined);
    first.setMeta("epoch", "3");
    first.setMeta("epoch", "5");
    first.close();
    const second = new Store(`${dir}/t.db`);
    try {
      assert.equal(second.getMeta("epoch"), "5");
    } finally {
      second.close();
    }
  });
});

Deno.test("Store.load() rebuilds the same state after close and reopen", async () => {
  await withTempDir((dir) => {
    const h = history(7);
    const store = new Store(`${dir}/t.db`);
    assert.deepEqual(store.load().toSnapshot(), new TrackerState().toSnapshot());
    record(store, new TrackerState(), h.entries);
    store.close();
    const reopened = new Store(`${dir}/t.db`);
    try {
      const state = reopened.load();
      assert.equal(state.index, 38);
      assert.deepEqual(state.toSnapshot(), h.state.toSnapshot());
    } finally {
      reopened.close();
    }
  });
});

Deno.test("Store snapshots every snapshotEvery entries and keeps keepLog entries before", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/t.db`;
    const h = history(5);
    const state = new TrackerState();
    const store = new Store(path, { snapshotEvery: 5, keepLog: 3 });
    record(store, state, h.entries.slice(0, 23));
    // Snapshots at 5, 10, 15, 20; the last one dropped entries up to 20 - 3.
    assert.equal(store.firstIndex(), 18);
    assert.equal(store.entry(17), undefined);
    assert.deepEqual(store.entriesAfter(0, 100), h.entries.slice(17, 23));
    store.close();

    const reopened = new Store(path, { snapshotEvery: 5, keepLog: 3 });
    const loaded = reopened.load();
    const expected = new TrackerState();
    for (const e of h.entries.slice(0, 23)) expected.apply(e);
    assert.deepEqual(loaded.toSnapshot(), expected.toSnapshot());
    // The 3 entries replayed after the snapshot count toward the next one.
    record(reopened, loaded, h.entries.slice(23));
    // 3 + 2 more make 5: a snapshot at 25 that keeps the log from 23.
    assert.equal(reopened.firstIndex(), 23);
    reopened.close();

    const again = new Store(path);
    try {
      assert.deepEqual(again.load().toSnapshot(), h.state.toSnapshot());
    } finally {
      again.close();
    }
  });
});

Deno.test("Store.writeSnapshot(state, true) replaces the whole log", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/t.db`;
    const h = history(3);
    const store = new Store(path);
    record(store, new TrackerState(), h.entries.slice(0, 7));
    // A secondary adopting the primary's snapshot at index 18.
    const adopted = TrackerState.fromSnapshot(h.state.toSnapshot());
    store.writeSnapshot(adopted, true);
    assert.equal(store.firstIndex(), 0);
    assert.deepEqual(store.entriesAfter(0, 100), []);
    const owner = adopted.sessionByUser.get("owner")!;
    const next: LogEntry = {
      index: 19,
      epoch: 2,
      op: { kind: "create_group", user: "owner", group: "later", at: 1 },
    };
    record(store, adopted, [next]);
    store.close();
    const reopened = new Store(path);
    try {
      const loaded = reopened.load();
      assert.equal(loaded.index, 19);
      assert.deepEqual(loaded.toSnapshot(), adopted.toSnapshot());
      assert.equal(loaded.session(owner)?.user, "owner");
      assert.equal(loaded.groups.get("later")?.owner, "owner");
      assert.deepEqual(reopened.entriesAfter(0, 10), [next]);
    } finally {
      reopened.close();
    }
  });
});

Deno.test("Store.epochRuns() gives where each epoch of the log begins; deleteMeta forgets", async () => {
  await withTempDir((dir) => {
    const store = new Store(`${dir}/t.db`, { snapshotEvery: 4, keepLog: 1 });
    try {
      assert.deepEqual(store.epochRuns(), []);
      const epochs = [1, 1, 1, 2, 2, 5, 5, 5, 5, 6];
      const state = new TrackerState();
      record(
        store,
        state,
        epochs.map((epoch, i) => ({
          index: i + 1,
          epoch,
          op: { kind: "epoch", epoch, tracker: 1 },
        })),
      );
      // Compacted at 4 and 8 (dropping entries up to 8 - 1): the log holds 8 to 10.
      assert.equal(store.firstIndex(), 8);
      assert.deepEqual(store.epochRuns(), [[8, 5], [10, 6]]);
      store.setMeta("k", "v");
      store.deleteMeta("k");
      assert.equal(store.getMeta("k"), undefined);
    } finally {
      store.close();
    }
  });
});
