import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { emptyBitfield, hasBit, setBit } from "../../shared/bitfield.ts";
import { type DownloadRecord, ORPHAN, PeerDb } from "./peer_db.ts";

function download(over: Partial<DownloadRecord> = {}): DownloadRecord {
  return {
    group: "g1",
    name: "f.bin",
    dest: "/tmp/x",
    size: 20 * 512 * 1024,
    pieceSize: 512 * 1024,
    pieces: "ab".repeat(20 * 20),
    sha1: "cd".repeat(20),
    have: emptyBitfield(20),
    status: "D",
    error: null,
    ...over,
  };
}

/** Runs `f` with a database in a fresh folder, removed afterwards. */
async function withDir(f: (dir: string) => void): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    f(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function verified(db: PeerDb): number[] {
  const rec = db.downloads()[0]!;
  return [...Array(20).keys()].filter((p) => hasBit(rec.have, p));
}

Deno.test("PeerDb keeps pieces recorded one by one across a reopen", async () => {
  await withDir((dir) => {
    const db = new PeerDb(dir);
    const rec = download();
    db.putDownload(rec);
    for (const p of [0, 3, 19, 3]) db.addPiece(rec, p);
    db.close();
    const again = new PeerDb(dir);
    assert.deepEqual(verified(again), [0, 3, 19]);
    again.close();
  });
});

Deno.test("PeerDb.updateHave replaces the pieces recorded before it", async () => {
  await withDir((dir) => {
    const db = new PeerDb(dir);
    const rec = download();
    db.putDownload(rec);
    db.addPiece(rec, 5);
    const have = emptyBitfield(20);
    setBit(have, 7);
    db.updateHave(rec, have);
    assert.deepEqual(verified(db), [7]);
    db.addPiece(rec, 8);
    assert.deepEqual(verified(db), [7, 8]);
    db.close();
  });
});

Deno.test("PeerDb.putDownload forgets pieces recorded for an earlier download of the same name", async () => {
  await withDir((dir) => {
    const db = new PeerDb(dir);
    db.putDownload(download());
    db.addPiece(download(), 2);
    db.putDownload(download({ sha1: "ef".repeat(20) }));
    assert.deepEqual(verified(db), []);
    db.close();
  });
});

/** The pieces recorded in the database file alone, without its write-ahead log. */
function piecesInMainFile(dir: string): number {
  const copy = `${dir}/copy`;
  Deno.mkdirSync(copy);
  Deno.copyFileSync(`${dir}/peer.db`, `${copy}/peer.db`);
  const db = new PeerDb(copy);
  const n = db.downloads()[0]?.have.reduce((a, b) => a + popcount(b), 0) ?? 0;
  db.close();
  Deno.removeSync(copy, { recursive: true });
  return n;
}

function popcount(b: number): number {
  let n = 0;
  for (; b; b &= b - 1) n++;
  return n;
}

Deno.test("PeerDb keeps a long download's piece commits in its log until checkpoint()", async () => {
  await withDir((dir) => {
    const db = new PeerDb(dir);
    const n = 4096; // 2 GiB of pieces: the default log size would have checkpointed several times
    const rec = download({ size: n * 512 * 1024, have: emptyBitfield(n) });
    db.putDownload(rec);
    db.checkpoint();
    for (let p = 0; p < n; p++) db.addPiece(rec, p);
    assert.equal(piecesInMainFile(dir), 0, "no checkpoint while the pieces came in");
    db.checkpoint();
    assert.equal(piecesInMainFile(dir), n);
    db.close();
  });
});

/** Writes a peer.db as the code before users did (schema version 0), with one share and one download. */
function writeLegacy(dir: string): void {
  const db = new DatabaseSync(`${dir}/peer.db`);
  db.exec(`
    CREATE TABLE shares (
      grp TEXT NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL,
      mtime INTEGER NOT NULL, piece_size INTEGER NOT NULL, pieces TEXT NOT NULL,
      sha1 TEXT NOT NULL, PRIMARY KEY (grp, name));
    CREATE TABLE downloads (
      grp TEXT NOT NULL, name TEXT NOT NULL, dest TEXT NOT NULL, size INTEGER NOT NULL,
      piece_size INTEGER NOT NULL, pieces TEXT NOT NULL, sha1 TEXT NOT NULL,
      have BLOB NOT NULL, status TEXT NOT NULL, error TEXT, PRIMARY KEY (grp, name, dest));
    CREATE TABLE verified (
      grp TEXT NOT NULL, name TEXT NOT NULL, dest TEXT NOT NULL, piece INTEGER NOT NULL,
      PRIMARY KEY (grp, name, dest, piece)) WITHOUT ROWID;
  `);
  db.prepare("INSERT INTO shares VALUES ('g1', 'a.bin', '/src/a.bin', 10, 77, 524288, ?, ?)")
    .run("ab".repeat(20), "cd".repeat(20));
  const have = emptyBitfield(20);
  setBit(have, 1);
  const d = download();
  db.prepare("INSERT INTO downloads VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'D', NULL)")
    .run(d.group, d.name, d.dest, d.size, d.pieceSize, d.pieces, d.sha1, have);
  db.prepare("INSERT INTO verified VALUES (?, ?, ?, 4)").run(d.group, d.name, d.dest);
  db.close();
}

Deno.test("PeerDb migrates an old peer.db in place, giving its rows the stored session's user", async () => {
  await withDir((dir) => {
    writeLegacy(dir);
    let asked = 0;
    const db = new PeerDb(dir, { legacyUser: () => (asked++, "alice") });
    assert.equal(asked, 1);
    assert.deepEqual(db.schema.migrated, { rows: 3, user: "alice" });
    assert.deepEqual(db.shares("alice").map((s) => [s.user, s.name, s.path, s.mtime]), [
      ["alice", "a.bin", "/src/a.bin", 77],
    ]);
    const [rec] = db.downloads("alice");
    assert.equal(rec?.user, "alice");
    assert.deepEqual([...Array(20).keys()].filter((p) => hasBit(rec!.have, p)), [1, 4]);
    assert.deepEqual(db.shares("bob"), []);
    db.close();
    // Opened again: nothing more to migrate, nobody is asked.
    const again = new PeerDb(dir, { legacyUser: () => (asked++, "bob") });
    assert.equal(asked, 1);
    assert.equal(again.schema.migrated, null);
    assert.equal(again.shares("alice").length, 1);
    again.close();
  });
});

Deno.test("PeerDb leaves the rows of an old peer.db without a session to the next user who claims them", async () => {
  await withDir((dir) => {
    writeLegacy(dir);
    const db = new PeerDb(dir, { legacyUser: () => null });
    assert.deepEqual(db.schema.migrated, { rows: 3, user: ORPHAN });
    assert.deepEqual(db.shares("carol"), []);
    assert.deepEqual(db.claimOrphans("carol"), { shares: 1, downloads: 1 });
    assert.equal(db.shares("carol").length, 1);
    assert.equal(db.downloads("carol")[0]?.have.length, 3);
    assert.equal(verified(db).length, 2, "the verified pieces moved with the download");
    assert.deepEqual(db.claimOrphans("dave"), { shares: 0, downloads: 0 });
    db.close();
  });
});

Deno.test("PeerDb keeps each user's shares and downloads apart", async () => {
  await withDir((dir) => {
    const db = new PeerDb(dir);
    const share = {
      group: "g1",
      name: "a.bin",
      path: "/src/a.bin",
      size: 10,
      mtime: 1,
      pieceSize: 512 * 1024,
      pieces: "ab".repeat(20),
      sha1: "cd".repeat(20),
    };
    db.putShare({ ...share, user: "alice" });
    db.putShare({ ...share, user: "bob", path: "/bob/a.bin" });
    db.deleteShare({ user: "bob", group: "g1", name: "a.bin" });
    assert.deepEqual(db.shares("alice").map((s) => s.path), ["/src/a.bin"]);
    assert.deepEqual(db.shares("bob"), []);

    const a = download({ user: "alice" });
    const b = download({ user: "bob" });
    db.putDownload(a);
    db.putDownload(b);
    db.addPiece(a, 3);
    db.setStatus(b, "P", null);
    assert.deepEqual(db.downloads().map((r) => [r.user, r.status]), [["alice", "D"], [
      "bob",
      "P",
    ]]);
    assert.ok(hasBit(db.downloads("alice")[0]!.have, 3));
    assert.ok(!hasBit(db.downloads("bob")[0]!.have, 3), "alice's piece is not bob's");

    db.setStatus(a, "C", null);
    db.putDownload(download({ user: "alice", name: "x.bin", status: "F", error: "full" }));
    assert.equal(db.clearEnded("alice"), 2);
    assert.deepEqual(db.downloads().map((r) => r.user), ["bob"]);
    db.deleteDownload(b);
    assert.deepEqual(db.downloads(), []);
    db.close();
  });
});
