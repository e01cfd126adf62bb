/**
 * A download survives `kill -9` of the downloading peer: restarted with the
 * same state directory, the peer resumes its session and the download, and
 * fetches only the pieces it had not verified.
 *
 * The pieces fetched after the restart are counted at the seeder: it reads
 * each piece it serves from its file, so the growth of its `rchar` in
 * `/proc/<pid>/io`, divided by the piece size, is the number of pieces served.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { PIECE_SIZE } from "../shared/constants.ts";
import { hasBit } from "../shared/bitfield.ts";
import { FakePeer, fileMeta } from "./fake_peer.ts";
import {
  assertSameBytes,
  exists,
  randomBytes,
  readDownloads,
  sha1OfFile,
  writeRandomFile,
} from "./harness/files.ts";
import { GROUP, Swarm } from "./harness/swarm.ts";
import { delay, waitFor } from "./harness/wait.ts";

const SIZE = 200 * 1024 * 1024;
const PIECES = SIZE / PIECE_SIZE;

/** Resolves once `read()` has not changed for `quietMs`; returns its value. */
async function settled(read: () => number, quietMs = 300): Promise<number> {
  let last = read();
  for (;;) {
    await delay(quietMs);
    const now = read();
    if (now === last) return now;
    last = now;
  }
}

Deno.test("a download killed halfway resumes after a restart and fetches only the missing pieces", async () => {
  await Swarm.run(async (s) => {
    const alice = await s.member("alice");
    const bob = await s.member("bob", { workers: 1 });
    const src = await s.mkdir("src");
    const dst = await s.mkdir("dst");
    const sha1 = await writeRandomFile(`${src}/big.bin`, SIZE);
    await alice.ok(`upload_file ${src}/big.bin ${GROUP}`, 60_000);

    await bob.ok(`download_file ${GROUP} big.bin ${dst}`);
    await waitFor(() => (readDownloads(bob.stateDir)[0]?.count ?? 0) >= PIECES / 2, {
      intervalMs: 5,
      timeoutMs: 30_000,
      what: "half of the pieces",
    });
    await bob.kill("SIGKILL");

    const atKill = readDownloads(bob.stateDir)[0]!;
    assert.equal(atKill.status, "D");
    assert.ok(
      atKill.count > 0 && atKill.count < PIECES,
      `${atKill.count} of ${PIECES} at the kill`,
    );
    assert.ok(await exists(`${dst}/big.bin.part`));
    assert.ok(!(await exists(`${dst}/big.bin`)));
    const before = await settled(() => alice.io().rchar);

    const again = await s.start("bob-again", {
      stateDir: bob.stateDir,
      addr: bob.addr,
      workers: 1,
    });
    await again.waitStdout(/resumed session as bob/);
    await again.waitStdout(/resuming download of big\.bin from g1/);
    await again.waitStdout(/download of big\.bin complete/, { timeoutMs: 60_000 });
    const served = Math.floor((alice.io().rchar - before) / PIECE_SIZE);

    assert.equal(await sha1OfFile(`${dst}/big.bin`), sha1);
    await assertSameBytes(`${dst}/big.bin`, `${src}/big.bin`);
    assert.ok(!(await exists(`${dst}/big.bin.part`)));
    assert.equal(readDownloads(bob.stateDir)[0]!.status, "C");

    const missing = PIECES - atKill.count;
    // Fetching the verified pieces again would serve all PIECES (plus end-game duplicates).
    // End-game duplicates are pieces that were missing, asked on several connections.
    assert.ok(
      served >= missing && served <= missing + atKill.count / 2,
      `after the restart the seeder served ${served} pieces; ${missing} were missing`,
    );
  });
});

Deno.test("after a restart, no piece verified before the kill is requested again", async () => {
  await Swarm.run(async (s) => {
    const alice = await s.member("alice");
    const bob = await s.member("bob");
    const n = 128;
    const data = randomBytes(n * PIECE_SIZE - 999);
    const meta = await fileMeta(GROUP, "held.bin", data);
    // The only source answers the first half of the pieces at once and holds
    // back the rest, so the download stalls halfway with requests in flight.
    const seeder = await FakePeer.start(s.pair, "seeder");
    try {
      await seeder.tracker.call("join_group", { group: GROUP });
      await alice.ok(`accept_request ${GROUP} seeder`);
      const held = new Set([...Array(n).keys()].filter((p) => p >= n / 2));
      await seeder.share({ data, meta, mode: "honest", held });
      const dst = await s.mkdir("dst");
      await bob.ok(`download_file ${GROUP} held.bin ${dst}`);
      await waitFor(() => (readDownloads(bob.stateDir)[0]?.count ?? 0) >= n / 4, {
        what: "a quarter of the pieces",
      });
      await settled(() => readDownloads(bob.stateDir)[0]!.count);
      await bob.kill("SIGKILL");
      const atKill = readDownloads(bob.stateDir)[0]!;
      const connections = seeder.stats.connections;
      seeder.release();

      const again = await s.start("bob-again", { stateDir: bob.stateDir, addr: bob.addr });
      await again.waitStdout(/download of held\.bin complete/, { timeoutMs: 30_000 });
      await assertSameBytes(`${dst}/held.bin`, await writeTemp(s, data));

      const asked = seeder.requests.filter((r) => r.conn > connections).map((r) => r.piece);
      const refetched = asked.filter((p) => hasBit(atKill.have, p));
      assert.deepEqual(refetched, [], `verified pieces requested again after the restart`);
      const missing = [...Array(n).keys()].filter((p) => !hasBit(atKill.have, p));
      assert.deepEqual([...new Set(asked)].sort((a, b) => a - b), missing);
    } finally {
      await seeder.close();
    }
  });
});

async function writeTemp(s: Swarm, data: Uint8Array): Promise<string> {
  const path = `${await s.mkdir("expected")}/held.bin`;
  await Deno.writeFile(path, data);
  return path;
}

Deno.test("a download whose final file exists but was not recorded as complete is checked, never overwritten", async () => {
  await Swarm.run(async (s) => {
    const alice = await s.member("alice");
    const bob = await s.member("bob");
    const src = await s.mkdir("src");
    const dst = await s.mkdir("dst");
    const sha1 = await writeRandomFile(`${src}/a.bin`, 3 * PIECE_SIZE);
    await writeRandomFile(`${src}/b.bin`, 3 * PIECE_SIZE);
    await alice.ok(`upload_file ${src}/a.bin ${GROUP}`);
    await alice.ok(`upload_file ${src}/b.bin ${GROUP}`);
    await bob.ok(`download_file ${GROUP} a.bin ${dst}`);
    await bob.ok(`download_file ${GROUP} b.bin ${dst}`);
    await bob.waitStdout(/download of a\.bin complete/);
    await bob.waitStdout(/download of b\.bin complete/);
    await bob.kill("SIGKILL");
    // As a crash right after the rename would leave them: unfinished in peer.db, no .part.
    // b.bin was then replaced by something else of the same size.
    const db = new DatabaseSync(`${bob.stateDir}/peer.db`);
    db.exec("UPDATE downloads SET status = 'D'");
    db.close();
    const other = randomBytes(3 * PIECE_SIZE);
    await Deno.writeFile(`${dst}/b.bin`, other);
    const again = await s.start("bob-again", { stateDir: bob.stateDir, addr: bob.addr });
    await again.waitStdout(/download of a\.bin was already complete/);
    assert.equal(await sha1OfFile(`${dst}/a.bin`), sha1);
    assert.deepEqual(await Deno.readFile(`${dst}/b.bin`), other, "b.bin is not touched");
    assert.ok(!(await exists(`${dst}/a.bin.part`)) && !(await exists(`${dst}/b.bin.part`)));
    const lines = await again.run("show_downloads");
    assert.ok(lines.includes(`[C] [${GROUP}] a.bin`), lines.join("\n"));
    assert.ok(
      lines.some((l) => l.startsWith(`[F] [${GROUP}] b.bin`) && /already exists/.test(l)),
      lines.join("\n"),
    );
  });
});
