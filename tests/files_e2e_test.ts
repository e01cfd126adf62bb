/**
 * Sharing and downloading files between real peer processes on a real tracker
 * pair: sizes around the piece boundary, the group's file list, name clashes,
 * withdrawing files, files changed on disk, unsafe names and parallel downloads.
 */
import assert from "node:assert/strict";
import { MAX_SHARE_SIZE, PIECE_SIZE } from "../shared/constants.ts";
import { FakePeer, fileMeta } from "./fake_peer.ts";
import {
  assertSameBytes,
  exists,
  parseListFiles,
  randomBytes,
  readDownloads,
  sha1OfFile,
  writeRandomFile,
} from "./harness/files.ts";
import { GROUP, Swarm } from "./harness/swarm.ts";
import { waitFor } from "./harness/wait.ts";

const MiB = 1024 * 1024;

/** The files around the piece boundary, by name. */
const SIZES: [string, number][] = [
  ["empty.bin", 0],
  ["one.bin", 1],
  ["piece-minus-1.bin", PIECE_SIZE - 1],
  ["piece.bin", PIECE_SIZE],
  ["piece-plus-1.bin", PIECE_SIZE + 1],
  ["twenty.bin", 20 * MiB],
];

Deno.test("downloads of 0 B, 1 B, 512 KiB - 1, 512 KiB, 512 KiB + 1 and 20 MiB equal the originals byte for byte", async () => {
  await Swarm.run(async (s) => {
    const alice = await s.member("alice");
    const bob = await s.member("bob");
    const src = await s.mkdir("src");
    const dst = await s.mkdir("dst");
    const sums = new Map<string, string>();
    for (const [i, [name, size]] of SIZES.entries()) {
      sums.set(name, await writeRandomFile(`${src}/${name}`, size));
      // upload_file takes its two arguments in either order.
      const line = i % 2 === 0
        ? `upload_file ${src}/${name} ${GROUP}`
        : `upload_file ${GROUP} ${src}/${name}`;
      assert.equal(
        await alice.ok(line),
        `shared ${name} in ${GROUP} (${size} bytes, ${Math.ceil(size / PIECE_SIZE)} pieces, sha1 ${
          sums.get(name)
        })`,
      );
    }
    const before = parseListFiles(await bob.run(`list_files ${GROUP}`));
    assert.deepEqual([...before.keys()].sort(), SIZES.map(([n]) => n).sort());
    for (const [name, row] of before) {
      assert.deepEqual(row, { sha1: sums.get(name), seeders: 1, partial: 0 }, name);
    }

    for (const [name] of SIZES) {
      assert.match(await bob.ok(`download_file ${GROUP} ${name} ${dst}`), /^downloading /);
    }
    const summary = await bob.run("wait", 60_000);
    for (const [name] of SIZES) {
      assert.ok(summary.includes(`[C] [${GROUP}] ${name}`), `${name}: ${summary.join("\n")}`);
      assert.match(bob.stdout, new RegExp(`download of ${name} complete: ${dst}/${name} `));
      await assertSameBytes(`${dst}/${name}`, `${src}/${name}`);
      assert.equal(await sha1OfFile(`${dst}/${name}`), sums.get(name));
    }
    const left = [...Deno.readDirSync(dst)].map((e) => e.name).sort();
    assert.deepEqual(left, SIZES.map(([n]) => n).sort(), "no .part file remains");

    // The finished copies are offered too: every file now has two seeders.
    const after = parseListFiles(await alice.run(`list_files ${GROUP}`));
    for (const [name] of SIZES) {
      assert.deepEqual(after.get(name), { sha1: sums.get(name), seeders: 2, partial: 0 }, name);
    }
  });
});

Deno.test("list_files counts a peer still downloading as partial, and as a seeder once it is done", async () => {
  await Swarm.run(async (s) => {
    const alice = await s.member("alice");
    const bob = await s.member("bob");
    const data = randomBytes(8 * PIECE_SIZE);
    const meta = await fileMeta(GROUP, "half.bin", data);
    // A source that has (and serves) only the first half of the pieces.
    const fake = await FakePeer.start(s.pair, "fake");
    try {
      await fake.tracker.call("join_group", { group: GROUP });
      await alice.ok(`accept_request ${GROUP} fake`);
      await fake.share({ data, meta, mode: "honest", have: new Set([0, 1, 2, 3]) });
      const dst = await s.mkdir("dst");
      await bob.ok(`download_file ${GROUP} half.bin ${dst}`);
      await waitFor(() => readDownloads(bob.stateDir)[0]?.count === 4, { what: "4 pieces" });
      await waitFor(async () => {
        const row = parseListFiles(await alice.run(`list_files ${GROUP}`)).get("half.bin");
        return row?.seeders === 1 && row.partial === 1;
      }, { what: "1 seeder and 1 partial in list_files" });

      const src = await s.mkdir("src");
      await Deno.writeFile(`${src}/half.bin`, data);
      await alice.ok(`upload_file ${src}/half.bin ${GROUP}`);
      await bob.waitStdout(/download of half\.bin complete/, { timeoutMs: 20_000 });
      await assertSameBytes(`${dst}/half.bin`, `${src}/half.bin`);
      assert.deepEqual(parseListFiles(await alice.run(`list_files ${GROUP}`)).get("half.bin"), {
        sha1: meta.sha1,
        seeders: 3,
        partial: 0,
      });
    } finally {
      await fake.close();
    }
  });
});

Deno.test("a name clash is refused, the same content adds a seeder, and the last stop_share removes the file", async () => {
  await Swarm.run(async (s) => {
    const alice = await s.member("alice");
    const bob = await s.member("bob");
    const carol = await s.member("carol");
    const a = await s.mkdir("a");
    const b = await s.mkdir("b");
    const c = await s.mkdir("c");
    const sha1 = await writeRandomFile(`${a}/doc.bin`, PIECE_SIZE + 100);
    await alice.ok(`upload_file ${a}/doc.bin ${GROUP}`);

    await writeRandomFile(`${b}/doc.bin`, PIECE_SIZE + 100);
    assert.equal(
      await bob.error(`upload_file ${b}/doc.bin ${GROUP}`),
      `error: a different file named doc.bin is already shared in group ${GROUP}`,
    );
    assert.deepEqual(parseListFiles(await carol.run(`list_files ${GROUP}`)).get("doc.bin"), {
      sha1,
      seeders: 1,
      partial: 0,
    });

    await Deno.copyFile(`${a}/doc.bin`, `${c}/doc.bin`);
    assert.match(await bob.ok(`upload_file ${GROUP} ${c}/doc.bin`), /^shared doc\.bin in g1 /);
    assert.equal(parseListFiles(await carol.run(`list_files ${GROUP}`)).get("doc.bin")?.seeders, 2);

    assert.equal(
      await alice.ok(`stop_share ${GROUP} doc.bin`),
      `stopped sharing doc.bin in ${GROUP}`,
    );
    assert.equal(parseListFiles(await carol.run(`list_files ${GROUP}`)).get("doc.bin")?.seeders, 1);
    // Only bob offers it now, and a download still works.
    const dst = await s.mkdir("dst");
    await carol.ok(`download_file ${GROUP} doc.bin ${dst}`);
    await carol.run("wait");
    await assertSameBytes(`${dst}/doc.bin`, `${a}/doc.bin`);
    assert.equal(
      await carol.ok(`stop_share ${GROUP} doc.bin`),
      `stopped sharing doc.bin in ${GROUP}`,
    );

    assert.equal(
      await bob.ok(`stop_share ${GROUP} doc.bin`),
      `stopped sharing doc.bin in ${GROUP}; nobody shares it any more, so it left the group`,
    );
    assert.deepEqual(await carol.run(`list_files ${GROUP}`), [`no files in ${GROUP}`]);
    const dst2 = await s.mkdir("dst2");
    assert.equal(
      await carol.error(`download_file ${GROUP} doc.bin ${dst2}`),
      `error: no file doc.bin in group ${GROUP}`,
    );
    assert.deepEqual([...Deno.readDirSync(dst2)], []);
  });
});

Deno.test("a shared file changed on disk stops being offered within a few seconds", async () => {
  await Swarm.run(async (s) => {
    const alice = await s.member("alice");
    const bob = await s.member("bob");
    const carol = await s.member("carol");
    const a = await s.mkdir("a");
    const b = await s.mkdir("b");
    await writeRandomFile(`${a}/notes.bin`, 3 * PIECE_SIZE);
    await Deno.copyFile(`${a}/notes.bin`, `${b}/notes.bin`);
    const original = await Deno.readFile(`${a}/notes.bin`);
    await alice.ok(`upload_file ${a}/notes.bin ${GROUP}`);
    await bob.ok(`upload_file ${b}/notes.bin ${GROUP}`);
    assert.equal(
      parseListFiles(await carol.run(`list_files ${GROUP}`)).get("notes.bin")?.seeders,
      2,
    );

    // Same size, other bytes: only the modification time tells.
    const mark = alice.stdout.length;
    const changed = original.slice();
    changed[0] = changed[0]! ^ 0xff;
    await Deno.writeFile(`${a}/notes.bin`, changed);
    const t0 = Date.now();
    await alice.waitStdout(/stopped sharing notes\.bin in g1: it changed on disk/, {
      since: mark,
      timeoutMs: 8_000,
    });
    assert.ok(Date.now() - t0 < 7_000, `noticed after ${Date.now() - t0} ms`);
    await waitFor(async () => {
      const row = parseListFiles(await carol.run(`list_files ${GROUP}`)).get("notes.bin");
      return row?.seeders === 1;
    }, { what: "list_files to count only bob", timeoutMs: 5_000 });

    // A download now gets the original bytes (from bob), never alice's changed ones.
    const dst = await s.mkdir("dst");
    await carol.ok(`download_file ${GROUP} notes.bin ${dst}`);
    await carol.run("wait");
    await assertSameBytes(`${dst}/notes.bin`, `${b}/notes.bin`);
  });
});

Deno.test("download_file refuses names with ../ or / and writes nothing outside the destination", async () => {
  await Swarm.run(async (s) => {
    const alice = await s.member("alice");
    const bob = await s.member("bob");
    const src = await s.mkdir("src");
    await writeRandomFile(`${src}/target.bin`, 1000);
    await alice.ok(`upload_file ${src}/target.bin ${GROUP}`);
    const outer = await s.mkdir("outer");
    const dst = await s.mkdir("outer/dst");
    const names = [
      "../target.bin",
      "../../target.bin",
      "sub/target.bin",
      "/tmp/target.bin",
      `${src}/target.bin`,
      "..",
      ".",
      "..\\target.bin",
    ];
    for (const name of names) {
      await bob.error(`download_file ${GROUP} "${name}" ${dst}`);
    }
    assert.deepEqual([...Deno.readDirSync(dst)], [], "the destination stays empty");
    assert.deepEqual([...Deno.readDirSync(outer)].map((e) => e.name), ["dst"]);
    assert.ok(!(await exists(`${s.dir}/target.bin`)));
    assert.ok(!(await exists(`${s.dir}/target.bin.part`)));
    assert.deepEqual(await bob.run("show_downloads"), ["no downloads"]);
  });
});

Deno.test("two downloads at once in one peer both complete correctly", async () => {
  await Swarm.run(async (s) => {
    const alice = await s.member("alice");
    const bob = await s.member("bob");
    const src = await s.mkdir("src");
    const dst = await s.mkdir("dst");
    await writeRandomFile(`${src}/first.bin`, 12 * MiB + 7);
    await writeRandomFile(`${src}/second.bin`, 9 * MiB + 3);
    await alice.ok(`upload_file ${src}/first.bin ${GROUP}`);
    await alice.ok(`upload_file ${src}/second.bin ${GROUP}`);
    await bob.ok(`download_file ${GROUP} first.bin ${dst}`);
    await bob.ok(`download_file ${GROUP} second.bin ${dst}`);
    const summary = await bob.run("wait", 60_000);
    assert.ok(summary.includes(`[C] [${GROUP}] first.bin`), summary.join("\n"));
    assert.ok(summary.includes(`[C] [${GROUP}] second.bin`), summary.join("\n"));
    await assertSameBytes(`${dst}/first.bin`, `${src}/first.bin`);
    await assertSameBytes(`${dst}/second.bin`, `${src}/second.bin`);
    assert.deepEqual([...Deno.readDirSync(dst)].map((e) => e.name).sort(), [
      "first.bin",
      "second.bin",
    ]);
  });
});

Deno.test("a seeder that quits or gets SIGTERM is no longer listed, and is again when it starts with its stored session", async () => {
  await Swarm.run(async (s) => {
    const alice = await s.member("alice");
    const bob = await s.member("bob");
    const src = await s.mkdir("src");
    await writeRandomFile(`${src}/doc.bin`, PIECE_SIZE + 100);
    await alice.ok(`upload_file ${src}/doc.bin ${GROUP}`);
    const seeders = async () =>
      parseListFiles(await bob.run(`list_files ${GROUP}`)).get("doc.bin")?.seeders;
    assert.equal(await seeders(), 1);

    await alice.close(); // end of input, as `quit`
    assert.equal(alice.exit?.code ?? (await alice.child.status).code, 0);
    assert.equal(await seeders(), 0, "a peer that quit is not offered to downloaders");

    const again = await s.start("alice-again", { stateDir: alice.stateDir, addr: alice.addr });
    await waitFor(async () => (await seeders()) === 1, { what: "alice listed again" });

    await again.kill("SIGTERM");
    assert.equal(await seeders(), 0, "a peer stopped by SIGTERM is not offered either");
    assert.match(await bob.run("whoami").then((l) => l.join("\n")), /bob/);
  });
});

Deno.test("a file too large for a share_file request is refused at once with a clear error", async () => {
  await Swarm.run(async (s) => {
    const alice = await s.member("alice");
    const dir = await s.mkdir("big");
    // Sparse: nothing is written, and nothing may be hashed before the refusal.
    const path = `${dir}/huge.iso`;
    const f = await Deno.open(path, { create: true, write: true });
    await f.truncate(MAX_SHARE_SIZE + 1);
    f.close();
    assert.equal(
      await alice.error(`upload_file ${path} ${GROUP}`, 5_000),
      `error: ${path} is 12.0 GiB; files over 12.0 GiB cannot be shared yet`,
    );
    assert.equal(parseListFiles(await alice.run(`list_files ${GROUP}`)).size, 0);
  });
});
