/**
 * Two users on one peer in turn (one state folder): each one's shares and
 * downloads stay theirs across the other's sessions, a login neither
 * withdraws nor takes over the other's files, and the piece server serves
 * only the logged-in user's files. Probed with real trackers, real peer
 * processes and, for the piece server, the raw codec client of fake_peer.ts.
 */
import assert from "node:assert/strict";
import { PeerDb } from "../peer/store/peer_db.ts";
import { PIECE_SIZE } from "../shared/constants.ts";
import type { Message } from "../shared/frame.ts";
import { type ClientEvent, PieceClient, type PieceDial, RawTracker } from "./fake_peer.ts";
import { parseListFiles, writeRandomFile } from "./harness/files.ts";
import { freePort } from "./harness/ports.ts";
import type { PeerShell } from "./harness/shell.ts";
import { GROUP, Swarm } from "./harness/swarm.ts";
import { waitFor } from "./harness/wait.ts";

/** `list_files` of the group as seen by `who`, by name. */
async function files(who: PeerShell) {
  return parseListFiles(await who.run(`list_files ${GROUP}`));
}

/** The shares recorded in a state folder's peer.db, as `user:name`. */
function sharesIn(stateDir: string): string[] {
  const db = new PeerDb(stateDir);
  try {
    return db.shares().map((s) => `${s.user}:${s.name}`).sort();
  } finally {
    db.close();
  }
}

/** Asks `to.addr` (as `to.tls`) for piece 0 of a file with a genuine grant; returns the data frames it sent. */
async function fetchPiece0(to: PieceDial, grant: unknown, m: Record<string, unknown>) {
  const c = await PieceClient.connect(to);
  try {
    const hello: Message = { t: "hello", group: GROUP, name: m.name, sha1: m.sha1, grant };
    await c.send(hello);
    const first = await c.next(3000);
    await c.send({ t: "get", tag: 0, piece: 0 }).catch(() => {});
    const rest = await c.rest(2000);
    const all: ClientEvent[] = [first, ...rest.frames];
    return all.filter((f) => f.kind === "data");
  } finally {
    await c.close();
  }
}

/** Lines printed since `mark` that are not the shell's sync markers. */
function since(p: PeerShell, mark: number): string {
  return p.stdout.slice(mark).split("\n").filter((l) => !/__sync_/.test(l)).join("\n");
}

Deno.test("two users on one peer in turn: each one's shares stay theirs, offered only at their own login", async () => {
  await Swarm.run(async (s) => {
    const carol = await s.member("carol"); // owns g1, on a peer of her own
    const box = await s.start("box");
    const src = await s.mkdir("src");
    const sha1A = await writeRandomFile(`${src}/a.bin`, 2 * PIECE_SIZE + 5);
    await writeRandomFile(`${src}/b.bin`, PIECE_SIZE + 9);

    await box.ok("create_user alice pw-alice");
    await box.ok("create_user bob pw-bob");
    await box.ok("login alice pw-alice");
    await box.ok(`join_group ${GROUP}`);
    await carol.ok(`accept_request ${GROUP} alice`);
    await box.ok(`upload_file ${src}/a.bin ${GROUP}`);
    assert.equal((await files(carol)).get("a.bin")?.seeders, 1);
    await box.ok("logout");
    assert.deepEqual(await carol.run(`list_files ${GROUP}`), [`no files in ${GROUP}`]);

    // bob, not a member of g1, logs in: alice's share is neither withdrawn nor his.
    let mark = box.stdout.length;
    await box.ok("login bob pw-bob");
    assert.doesNotMatch(since(box, mark), /stopped sharing/);
    assert.deepEqual(sharesIn(box.stateDir), ["alice:a.bin"]);
    await box.ok("logout");

    // alice's next login offers her file again.
    await box.ok("login alice pw-alice");
    await waitFor(async () => (await files(carol)).get("a.bin")?.seeders === 1, {
      what: "a.bin offered again at alice's login",
    });
    await box.ok("logout");

    // bob becomes a member and logs in again: alice's file is still not offered as his.
    await box.ok("login bob pw-bob");
    await box.ok(`join_group ${GROUP}`);
    await carol.ok(`accept_request ${GROUP} bob`);
    await box.ok("logout");
    mark = box.stdout.length;
    await box.ok("login bob pw-bob");
    assert.doesNotMatch(since(box, mark), /stopped sharing/);
    assert.deepEqual(await carol.run(`list_files ${GROUP}`), [`no files in ${GROUP}`]);
    assert.equal(
      await box.error(`stop_share ${GROUP} a.bin`),
      `error: you do not share a.bin in group ${GROUP}`,
    );
    assert.deepEqual(sharesIn(box.stateDir), ["alice:a.bin"], "bob's stop_share left alice's");
    await box.ok(`upload_file ${src}/b.bin ${GROUP}`);
    assert.deepEqual([...(await files(carol)).keys()], ["b.bin"]);

    // While bob is logged in, box does not serve alice's file even to a requester with a grant.
    const copy = await s.mkdir("copy");
    await Deno.copyFile(`${src}/a.bin`, `${copy}/a.bin`);
    await carol.ok(`upload_file ${copy}/a.bin ${GROUP}`);
    const eve = await RawTracker.connect(s.pair.endpoints[0], await s.pair.ca());
    try {
      await eve.signUp("eve", "pw-eve", `127.0.0.1:${freePort()}`);
      await eve.call("join_group", { group: GROUP });
      await carol.ok(`accept_request ${GROUP} eve`);
      const lookup = await eve.call("lookup_file", { group: GROUP, name: "a.bin" });
      assert.equal(lookup.sha1, sha1A);
      assert.deepEqual((lookup.peers as { user: string }[]).map((p) => p.user), ["carol"]);
      assert.equal(
        (await fetchPiece0({ addr: box.addr, tls: eve.tls() }, lookup.grant, lookup)).length,
        0,
      );

      await box.ok("logout");
      await box.ok("login alice pw-alice");
      const rows = await files(carol);
      assert.equal(rows.get("a.bin")?.seeders, 2, "carol and alice");
      assert.equal(rows.has("b.bin"), false, "bob's file left with him and is not alice's");
      const again = await eve.call("lookup_file", { group: GROUP, name: "a.bin" });
      assert.deepEqual((again.peers as { user: string }[]).map((p) => p.user).sort(), [
        "alice",
        "carol",
      ]);
      assert.equal(
        (await fetchPiece0({ addr: box.addr, tls: eve.tls() }, again.grant, again)).length,
        1,
      );
    } finally {
      await eve.close();
    }
    assert.deepEqual(sharesIn(box.stateDir), ["alice:a.bin", "bob:b.bin"]);

    // A restart with alice's stored session offers her file, not bob's.
    await box.close();
    await carol.ok(`stop_share ${GROUP} a.bin`);
    const box2 = await s.start("box-again", { stateDir: box.stateDir, addr: box.addr });
    await box2.waitStdout(/resumed session as alice/);
    await waitFor(async () => {
      const rows = await files(carol);
      return rows.get("a.bin")?.seeders === 1 && !rows.has("b.bin");
    }, { what: "only alice's a.bin offered after the restart" });
    assert.deepEqual(sharesIn(box.stateDir), ["alice:a.bin", "bob:b.bin"]);
  });
});

Deno.test("show_downloads lists every user's downloads with the user when nobody is logged in, and only one's own after login", async () => {
  await Swarm.run(async (s) => {
    const carol = await s.member("carol");
    const box = await s.start("box");
    const src = await s.mkdir("src");
    const dst = await s.mkdir("dst");
    await writeRandomFile(`${src}/x.bin`, 3 * PIECE_SIZE);
    await writeRandomFile(`${src}/y.bin`, PIECE_SIZE);
    await carol.ok(`upload_file ${src}/x.bin ${GROUP}`);
    await carol.ok(`upload_file ${src}/y.bin ${GROUP}`);
    for (const user of ["alice", "bob"]) {
      await box.ok(`create_user ${user} pw-${user}`);
      await box.ok(`login ${user} pw-${user}`);
      await box.ok(`join_group ${GROUP}`);
      await carol.ok(`accept_request ${GROUP} ${user}`);
      await box.ok(`download_file ${GROUP} ${user === "alice" ? "x.bin" : "y.bin"} ${dst}`);
      await box.run("wait", 30_000);
      await box.ok("logout");
    }
    assert.deepEqual(await box.run("show_downloads"), [
      `alice: [C] [${GROUP}] x.bin`,
      `bob: [C] [${GROUP}] y.bin`,
    ]);
    await box.ok("login bob pw-bob");
    assert.deepEqual(await box.run("show_downloads"), [`[C] [${GROUP}] y.bin`]);
    assert.equal(await box.ok("clear_downloads"), "forgot 1 complete or failed download");
    assert.deepEqual(await box.run("show_downloads"), ["no downloads"]);
    await box.ok("logout");
    assert.deepEqual(await box.run("show_downloads"), [`alice: [C] [${GROUP}] x.bin`]);
    // Not logged in: the control commands say so, in one line.
    assert.equal(await box.error(`pause_download ${GROUP} x.bin`), "error: not logged in");
    assert.equal(await box.error("clear_downloads"), "error: not logged in");
  });
});
