import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { setBit } from "../../shared/bitfield.ts";
import { type DownloadDeps, DownloadDriver } from "./driver.ts";
import { LookupRefused } from "./tracker_answers.ts";
import type { PrefixHash } from "../verify/prefix_hash.ts";
import { type DownloadRecord, PeerDb } from "../store/peer_db.ts";
import { ServedFiles } from "../serve/served_files.ts";
import type { WorkerEvent } from "./transfer_protocol.ts";
import type { OpenSpec, TransferPool } from "./worker_pool.ts";

/** A fake transfer pool: the methods the test gives, the others doing nothing. */
function fakePool(over: Partial<TransferPool> = {}): TransferPool {
  return {
    open: () => 0,
    get: () => {},
    close: () => {},
    drain: () => Promise.resolve(),
    ...over,
  };
}

/** A download with fake deps: `pool` and `lookup` from the test, no whole-file hash answers. */
function newDownload(
  rec: DownloadRecord,
  deps: { db: PeerDb; pool: TransferPool; lookup: DownloadDeps["lookup"] },
): DownloadDriver {
  const silent: PrefixHash = {
    advance: () => {},
    finish: () => new Promise(() => {}),
    cancel: () => {},
  };
  return new DownloadDriver(rec, {
    lookup: deps.lookup,
    report: () => Promise.resolve(),
    db: deps.db,
    served: new ServedFiles(),
    pool: deps.pool,
    wholeHasher: () => silent,
    finished: () => Promise.resolve(),
  });
}

/** An unfinished download of `n` pieces of 512 KiB into `dir` (piece hashes that match nothing). */
function record(dir: string, n: number, have = new Uint8Array(Math.ceil(n / 8))): DownloadRecord {
  return {
    group: "g1",
    name: "f.bin",
    dest: dir,
    size: n * 512 * 1024,
    pieceSize: 512 * 1024,
    pieces: "ab".repeat(20 * n),
    sha1: "cd".repeat(20),
    have,
    status: "D",
    error: null,
  };
}

Deno.test("a download stopped by a shutdown during its final hash is kept for the next start, not failed", async () => {
  const dir = await Deno.makeTempDir();
  const db = new PeerDb(dir);
  try {
    const data = crypto.getRandomValues(new Uint8Array(1000));
    const sha1 = createHash("sha1").update(data).digest("hex");
    const have = new Uint8Array(1);
    setBit(have, 0);
    const rec: DownloadRecord = {
      group: "g1",
      name: "f.bin",
      dest: dir,
      size: data.length,
      pieceSize: 512 * 1024,
      pieces: sha1,
      sha1,
      have,
      status: "D",
      error: null,
    };
    await Deno.writeFile(`${dir}/f.bin.part`, data);
    db.putDownload(rec);
    // The whole-file hash runs in a worker that the shutdown stops before it answers.
    const hash: { fail: ((err: Error) => void) | null } = { fail: null };
    const stoppedHash: PrefixHash = {
      advance: () => {},
      finish: () => new Promise((_, reject) => hash.fail = reject),
      cancel: () => {},
    };
    const d = new DownloadDriver(rec, {
      lookup: () => Promise.reject(new Error("not asked: every piece is verified")),
      report: () => Promise.resolve(),
      db,
      served: new ServedFiles(),
      pool: fakePool(),
      wholeHasher: () => stoppedHash,
      finished: () => Promise.resolve(),
    });
    d.start();
    while (hash.fail === null) await new Promise((r) => setTimeout(r, 1));
    assert.equal(d.status, "V");
    d.stop();
    hash.fail(new Error("stopped"));
    await d.done;
    assert.notEqual(d.status, "F");
    assert.equal(db.downloads()[0]?.status, "D", "still an unfinished download in peer.db");
    assert.deepEqual(await Deno.readFile(`${dir}/f.bin.part`), data, "the .part file is kept");
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a download keeps 16 requests in flight over all its connections, 2 to 8 on each", async () => {
  // [peers, of which unreachable, requests on each open connection]
  const cases = [[1, 0, 8], [3, 0, 5], [4, 0, 4], [5, 0, 3], [8, 0, 2], [12, 0, 2], [7, 6, 8]];
  for (const [peers, dead, perConn] of cases as [number, number, number][]) {
    const dir = await Deno.makeTempDir();
    const db = new PeerDb(dir);
    try {
      const n = 256;
      const rec = record(dir, n);
      db.putDownload(rec);
      const asked = new Map<number, number>();
      let conns = 0;
      const pool = fakePool({
        open: (spec: OpenSpec, onEvent: (e: WorkerEvent) => void) => {
          const conn = ++conns;
          if (spec.addr.port < 9001 + dead) {
            queueMicrotask(() => onEvent({ type: "failed", conn, error: "connection refused" }));
            return conn;
          }
          asked.set(conn, 0);
          queueMicrotask(() => onEvent({ type: "opened", conn, have: "all" }));
          return conn;
        },
        get: (conn: number) => void asked.set(conn, asked.get(conn)! + 1),
      });
      const d = newDownload(rec, {
        db,
        pool: pool,
        lookup: () => Promise.reject(new Error("not asked: the lookup is given")),
      });
      const list = [...Array(peers).keys()].map((i) => ({
        user: `s${i}`,
        addr: `127.0.0.1:${9001 + i}`,
        have: "all",
      }));
      d.start({ peers: list, grant: {} });
      for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 1));
      const counts = [...asked.values()];
      const live = peers === 1 ? 2 : peers - dead; // two connections to a lone peer, else one each
      assert.equal(counts.length, live, `${counts.length} connections`);
      assert.deepEqual(new Set(counts), new Set([perConn]), `${peers} peer(s): ${counts}`);
      d.stop();
    } finally {
      db.close();
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("a source the trackers no longer list that stops delivering is dropped and its pieces go elsewhere", async () => {
  const dir = await Deno.makeTempDir();
  const db = new PeerDb(dir);
  try {
    const n = 4;
    const rec = record(dir, n, new Uint8Array(1));
    db.putDownload(rec);
    // Port 9001 opens and then answers nothing (its host vanished); 9002 is healthy.
    const portOf = new Map<number, number>();
    const events = new Map<number, (e: WorkerEvent) => void>();
    const asked = new Map<number, number[]>([[9001, []], [9002, []]]);
    const closed: number[] = [];
    let conns = 0;
    const pool = fakePool({
      open: (spec: OpenSpec, onEvent: (e: WorkerEvent) => void) => {
        const conn = ++conns;
        portOf.set(conn, spec.addr.port);
        events.set(conn, onEvent);
        queueMicrotask(() => onEvent({ type: "opened", conn, have: "all" }));
        return conn;
      },
      get: (conn: number, piece: number) => void asked.get(portOf.get(conn)!)!.push(piece),
      close: (conn: number) => {
        closed.push(portOf.get(conn)!);
        queueMicrotask(() => events.get(conn)!({ type: "failed", conn, error: "closed" }));
      },
    });
    const silent = { user: "a", addr: "127.0.0.1:9001", have: "all" };
    const healthy = { user: "b", addr: "127.0.0.1:9002", have: "all" };
    // Every later lookup: the trackers have dropped the silent peer.
    const d = newDownload(rec, {
      db,
      pool: pool,
      lookup: () => Promise.resolve({ peers: [healthy], grant: {} }),
    });
    d.start({ peers: [silent], grant: {} });
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(
      new Set(asked.get(9001)),
      new Set([0, 1, 2, 3]),
      "all asked of the first peer",
    );
    const t0 = performance.now();
    while (closed.length === 0 && performance.now() - t0 < 8000) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(closed.length > 0 && closed.every((p) => p === 9001), `closed: ${closed}`);
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(new Set(asked.get(9002)), new Set([0, 1, 2, 3]), "every piece asked again");
    d.stop();
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a download whose only source is offline is stalled with the reason; a lookup refusal of the file ends it", async () => {
  const dir = await Deno.makeTempDir();
  const db = new PeerDb(dir);
  try {
    const n = 41;
    const have = new Uint8Array(6);
    setBit(have, 0);
    const rec = record(dir, n, have);
    db.putDownload(rec);
    await Deno.writeFile(`${dir}/f.bin.part`, new Uint8Array(0));
    let answer: () => Promise<{ peers: []; grant: unknown }> = () =>
      Promise.resolve({ peers: [], grant: {} });
    const d = newDownload(rec, {
      db,
      pool: fakePool(),
      lookup: () => answer(),
    });
    assert.equal(d.stalled, null, "nothing is known before the first lookup");
    d.start({ peers: [], grant: {} });
    assert.equal(d.stalled, "no online peer has 40 of 41 pieces");
    // One refusal is not enough (a partition merge may restore the file a moment later): two are.
    let refused = 0;
    answer = () => {
      refused++;
      return Promise.reject(new LookupRefused("no file f.bin in group g1"));
    };
    const t0 = performance.now();
    while (refused < 1 && performance.now() - t0 < 5000) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(d.status, "D", "still running after the first refusal");
    while (d.status === "D" && performance.now() - t0 < 10_000) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(d.status, "F");
    assert.equal(refused, 2);
    assert.equal(d.error, "no file f.bin in group g1");
    d.stop();
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a paused download stays paused: the failed events of the connections it closed open none again", async () => {
  const dir = await Deno.makeTempDir();
  const db = new PeerDb(dir);
  try {
    const n = 8;
    const rec = record(dir, n, new Uint8Array(1));
    db.putDownload(rec);
    const events = new Map<number, (e: WorkerEvent) => void>();
    let opens = 0;
    let gets = 0;
    const pool = fakePool({
      open: (_spec: OpenSpec, onEvent: (e: WorkerEvent) => void) => {
        const conn = ++opens;
        events.set(conn, onEvent);
        queueMicrotask(() => onEvent({ type: "opened", conn, have: "all" }));
        return conn;
      },
      get: () => void gets++,
      close: (conn: number) =>
        queueMicrotask(() => events.get(conn)!({ type: "failed", conn, error: "closed" })),
    });
    const seeder = { user: "a", addr: "127.0.0.1:9001", have: "all" };
    const d = newDownload(rec, {
      db,
      pool: pool,
      lookup: () => Promise.resolve({ peers: [seeder], grant: {} }),
    });
    d.start({ peers: [seeder], grant: {} });
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(opens, 2);
    d.pause();
    const [openedBefore, askedBefore] = [opens, gets];
    // Past the first backoff (0.5 s) and the next lookup.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(opens, openedBefore, "no connection opened after pause");
    assert.equal(gets, askedBefore, "no piece asked after pause");
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});
