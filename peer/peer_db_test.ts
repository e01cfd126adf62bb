import assert from "node:assert/strict";
import { emptyBitfield, hasBit, setBit } from "../shared/bitfield.ts";
import { type DownloadRecord, PeerDb } from "./peer_db.ts";

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
