/**
 * Downloads from several sources with real peer processes: the load spread
 * over three seeders, a seeder killed mid-download, pieces relayed by a peer
 * that has only part of the file, and a peer that sends corrupt pieces.
 *
 * Which seeder served what is measured from outside: a seeder reads each piece
 * it serves from its file, so the growth of `rchar` in `/proc/<pid>/io` counts
 * the bytes it served.
 */
import assert from "node:assert/strict";
import { PIECE_SIZE } from "../shared/constants.ts";
import { REFRESH_INTERVAL_MS } from "../peer/download/session.ts";
import { MAX_STRIKES } from "../peer/download/sources.ts";
import { FakePeer, fileMeta } from "./fake_peer.ts";
import {
  assertSameBytes,
  parseListFiles,
  randomBytes,
  readDownloads,
  sha1OfFile,
  writeRandomFile,
} from "./harness/files.ts";
import { GROUP, Swarm } from "./harness/swarm.ts";
import { delay, waitFor } from "./harness/wait.ts";

const MiB = 1024 * 1024;

Deno.test("three seeders of a 20 MiB file each serve part of a download", async () => {
  await Swarm.run(async (s) => {
    const seeders = [await s.member("alice"), await s.member("bob"), await s.member("carol")];
    const dave = await s.member("dave");
    const src = await s.mkdir("src");
    const dst = await s.mkdir("dst");
    await writeRandomFile(`${src}/movie.bin`, 20 * MiB);
    for (const p of seeders) await p.ok(`upload_file ${src}/movie.bin ${GROUP}`);
    assert.equal(
      parseListFiles(await dave.run(`list_files ${GROUP}`)).get("movie.bin")?.seeders,
      3,
    );

    const before = seeders.map((p) => p.io().rchar);
    await dave.ok(`download_file ${GROUP} movie.bin ${dst}`);
    await dave.run("wait", 60_000);
    await assertSameBytes(`${dst}/movie.bin`, `${src}/movie.bin`);
    const served = seeders.map((p, i) => p.io().rchar - before[i]!);
    for (const [i, p] of seeders.entries()) {
      assert.ok(served[i]! >= PIECE_SIZE, `${p.label} served ${served[i]} bytes (${served})`);
    }
    const total = served.reduce((a, b) => a + b, 0);
    assert.ok(total >= 20 * MiB, `the seeders served ${total} bytes in all`);
  });
});

Deno.test("a seeder killed with SIGKILL mid-download: the download completes from the others", async () => {
  await Swarm.run(async (s) => {
    const alice = await s.member("alice");
    const bob = await s.member("bob");
    const carol = await s.member("carol");
    const dave = await s.member("dave", { workers: 1 });
    const src = await s.mkdir("src");
    const dst = await s.mkdir("dst");
    const size = 64 * MiB;
    const n = size / PIECE_SIZE;
    await writeRandomFile(`${src}/big.bin`, size);
    for (const p of [alice, bob, carol]) await p.ok(`upload_file ${src}/big.bin ${GROUP}`);

    const base = carol.io().rchar;
    await dave.ok(`download_file ${GROUP} big.bin ${dst}`);
    // A quarter of the way through, carol dies.
    await waitFor(() => (readDownloads(dave.stateDir)[0]?.count ?? 0) >= n / 4, {
      intervalMs: 2,
      what: "a quarter of the pieces",
    });
    const servedByCarol = carol.io().rchar - base;
    await carol.kill("SIGKILL");
    const atKill = readDownloads(dave.stateDir)[0]!;
    assert.ok(atKill.count < n, `the download had ended before the kill (${atKill.count}/${n})`);
    assert.ok(servedByCarol >= PIECE_SIZE, `carol had served ${servedByCarol} bytes`);
    await dave.waitStdout(/download of big\.bin complete/, { timeoutMs: 40_000 });
    await assertSameBytes(`${dst}/big.bin`, `${src}/big.bin`);
    const shown = (await dave.run("show_downloads")).filter((l) => !l.startsWith("download of"));
    assert.deepEqual(shown, [`[C] [${GROUP}] big.bin`]);
  });
});

Deno.test("a peer serves the pieces it has of a file it has not finished downloading", async () => {
  await Swarm.run(async (s) => {
    const alice = await s.member("alice");
    const bob = await s.member("bob");
    const carol = await s.member("carol");
    const n = 16;
    const data = randomBytes(n * PIECE_SIZE - 1234);
    const meta = await fileMeta(GROUP, "relay.bin", data);
    const half = new Set([...Array(n).keys()].filter((p) => p % 2 === 0));
    // The first source has (and serves) only the even pieces.
    const fake = await FakePeer.start(s.pair, "first");
    try {
      await fake.tracker.call("join_group", { group: GROUP });
      await alice.ok(`accept_request ${GROUP} first`);
      await fake.share({ data, meta, mode: "honest", have: half });
      const bobDst = await s.mkdir("bob");
      await bob.ok(`download_file ${GROUP} relay.bin ${bobDst}`);
      await waitFor(() => readDownloads(bob.stateDir)[0]?.count === half.size, {
        what: "bob to get the even pieces",
      });
      await waitFor(async () => {
        const row = parseListFiles(await carol.run(`list_files ${GROUP}`)).get("relay.bin");
        return row?.seeders === 1 && row.partial === 1;
      }, { what: "the tracker to list bob as partial" });

      // The first source leaves: bob, with half the file, is the only one left.
      await fake.tracker.call("logout");
      await fake.stopServing();
      assert.deepEqual(
        parseListFiles(await carol.run(`list_files ${GROUP}`)).get("relay.bin"),
        { sha1: meta.sha1, seeders: 0, partial: 1 },
      );
      const bobHave = readDownloads(bob.stateDir)[0]!.have;
      const bobBase = bob.io().rchar;
      const carolDst = await s.mkdir("carol");
      await carol.ok(`download_file ${GROUP} relay.bin ${carolDst}`);
      await waitFor(() => readDownloads(carol.stateDir)[0]?.count === half.size, {
        what: "carol to get bob's pieces from bob",
      });
      assert.deepEqual(readDownloads(carol.stateDir)[0]!.have, bobHave);
      const relayed = bob.io().rchar - bobBase;
      assert.ok(relayed >= half.size * PIECE_SIZE, `bob served only ${relayed} bytes`);
      assert.equal(readDownloads(bob.stateDir)[0]!.status, "D", "bob is still downloading");

      // A full seeder arrives: both finish, with the right bytes.
      const src = await s.mkdir("src");
      await Deno.writeFile(`${src}/relay.bin`, data);
      await alice.ok(`upload_file ${src}/relay.bin ${GROUP}`);
      await bob.waitStdout(/download of relay\.bin complete/, { timeoutMs: 20_000 });
      await carol.waitStdout(/download of relay\.bin complete/, { timeoutMs: 20_000 });
      await assertSameBytes(`${bobDst}/relay.bin`, `${src}/relay.bin`);
      await assertSameBytes(`${carolDst}/relay.bin`, `${src}/relay.bin`);
    } finally {
      await fake.close();
    }
  });
});

Deno.test("a downloader fetches over an open connection the pieces its peer verified after it connected", async () => {
  await Swarm.run(async (s) => {
    const alice = await s.member("alice");
    const bob = await s.member("bob");
    const carol = await s.member("carol");
    const n = 16;
    const data = randomBytes(n * PIECE_SIZE - 77);
    const meta = await fileMeta(GROUP, "grow.bin", data);
    const even = new Set([...Array(n).keys()].filter((p) => p % 2 === 0));
    const first = await FakePeer.start(s.pair, "first");
    const second = await FakePeer.start(s.pair, "second");
    try {
      for (const [f, user] of [[first, "first"], [second, "second"]] as const) {
        await f.tracker.call("join_group", { group: GROUP });
        await alice.ok(`accept_request ${GROUP} ${user}`);
      }
      // Bob gets the even pieces from the first source, which then leaves.
      await first.share({ data, meta, mode: "honest", have: even });
      const bobDst = await s.mkdir("bob");
      await bob.ok(`download_file ${GROUP} grow.bin ${bobDst}`);
      await waitFor(() => readDownloads(bob.stateDir)[0]?.count === even.size, {
        what: "bob to get the even pieces",
      });
      await waitFor(async () => {
        const row = parseListFiles(await carol.run(`list_files ${GROUP}`)).get("grow.bin");
        return row?.partial === 1;
      }, { what: "the tracker to list bob as partial" });
      await first.tracker.call("logout");
      await first.stopServing();
      // Carol connects to bob, the only source, and takes what he has (his welcome says: even).
      const carolDst = await s.mkdir("carol");
      await carol.ok(`download_file ${GROUP} grow.bin ${carolDst}`);
      await waitFor(() => readDownloads(carol.stateDir)[0]?.count === even.size, {
        what: "carol to get the even pieces from bob",
      });
      // While carol is stopped, bob completes from a second source that then leaves too.
      carol.signal("SIGSTOP");
      try {
        await second.share({ data, meta, mode: "honest" });
        await bob.waitStdout(/download of grow\.bin complete/, { timeoutMs: 20_000 });
        await second.tracker.call("logout");
        await second.stopServing();
      } finally {
        carol.signal("SIGCONT");
      }
      // Bob's new pieces reach carol over the connection she already has to him.
      await carol.waitStdout(/download of grow\.bin complete/, { timeoutMs: 20_000 });
      await assertSameBytes(`${carolDst}/grow.bin`, `${bobDst}/grow.bin`);
      assert.equal(await sha1OfFile(`${carolDst}/grow.bin`), meta.sha1);
    } finally {
      await first.close();
      await second.close();
    }
  });
});

Deno.test("a peer sending corrupt pieces is dropped after two and the file still arrives intact", async () => {
  await Swarm.run(async (s) => {
    const alice = await s.member("alice");
    const dave = await s.member("dave");
    const data = randomBytes(20 * MiB);
    const meta = await fileMeta(GROUP, "clip.bin", data);
    const fake = await FakePeer.start(s.pair, "liar");
    try {
      await fake.tracker.call("join_group", { group: GROUP });
      await alice.ok(`accept_request ${GROUP} liar`);
      // It answers its connections in turn, so that the bad pieces arrive interleaved.
      await fake.share({ data, meta, mode: "corrupt", paceMs: 40 });
      const dst = await s.mkdir("dst");
      await dave.ok(`download_file ${GROUP} clip.bin ${dst}`);
      const dropped = `Dropping peer "${fake.addr}" for "clip.bin"`;
      await waitFor(() => dave.stderr.includes(dropped), { what: "dave to drop the liar" });
      // Every piece so far was bad, and none was accepted.
      assert.ok(fake.stats.corrupt >= MAX_STRIKES, `${fake.stats.corrupt} corrupt pieces sent`);
      assert.equal(readDownloads(dave.stateDir)[0]!.count, 0);
      const log = dave.stderr.slice(0, dave.stderr.indexOf(dropped));
      const bad = log.match(/Bad piece \d+ of "clip\.bin"/g) ?? [];
      assert.equal(bad.length, MAX_STRIKES, `dropped after ${bad.length} bad pieces:\n${log}`);

      // The liar is not contacted again; an honest seeder completes the file.
      const connections = fake.stats.connections;
      const src = await s.mkdir("src");
      await Deno.writeFile(`${src}/clip.bin`, data);
      await alice.ok(`upload_file ${src}/clip.bin ${GROUP}`);
      await dave.waitStdout(/download of clip\.bin complete/, { timeoutMs: 20_000 });
      await assertSameBytes(`${dst}/clip.bin`, `${src}/clip.bin`);
      await delay(200);
      assert.equal(fake.stats.connections, connections, "no new connection to the liar");
    } finally {
      await fake.close();
    }
  });
});

Deno.test("a dropped peer stays dropped when the list of peers changes", async () => {
  await Swarm.run(async (s) => {
    const alice = await s.member("alice");
    const dave = await s.member("dave");
    const data = randomBytes(8 * MiB);
    const meta = await fileMeta(GROUP, "clip.bin", data);
    const liar = await FakePeer.start(s.pair, "liar");
    // A second source that serves nothing, so that the liar starts with two connections.
    const idle = await FakePeer.start(s.pair, "idle");
    try {
      for (const f of [liar, idle]) {
        await f.tracker.call("join_group", { group: GROUP });
        await alice.ok(`accept_request ${GROUP} ${f === liar ? "liar" : "idle"}`);
      }
      await liar.share({ data, meta, mode: "corrupt" });
      await idle.share({ data, meta, mode: "honest", have: new Set() });
      const dst = await s.mkdir("dst");
      await dave.ok(`download_file ${GROUP} clip.bin ${dst}`);
      const dropped = `Dropping peer "${liar.addr}" for "clip.bin"`;
      await waitFor(() => dave.stderr.includes(dropped), { what: "dave to drop the liar" });
      await delay(300);
      const connections = liar.stats.connections;

      // The idle source leaves; the liar is the only one the tracker lists.
      await idle.tracker.call("logout");
      await idle.stopServing();
      await delay(REFRESH_INTERVAL_MS + 1500);
      assert.equal(liar.stats.connections, connections, "the dropped liar was contacted again");
      assert.equal(readDownloads(dave.stateDir)[0]!.count, 0);

      const src = await s.mkdir("src");
      await Deno.writeFile(`${src}/clip.bin`, data);
      await alice.ok(`upload_file ${src}/clip.bin ${GROUP}`);
      await dave.waitStdout(/download of clip\.bin complete/, { timeoutMs: 20_000 });
      await assertSameBytes(`${dst}/clip.bin`, `${src}/clip.bin`);
      assert.equal(liar.stats.connections, connections, "the dropped liar was contacted again");
    } finally {
      await liar.close();
      await idle.close();
    }
  });
});
