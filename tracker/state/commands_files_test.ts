import assert from "node:assert/strict";
import { fileArgs, Harness, okData, PIECE } from "./_test_harness.ts";

/** alice owns group g with member bob; carol is logged in but not a member. */
function world() {
  const h = new Harness();
  const alice = h.signIn("alice", "10.0.0.1:7001");
  const bob = h.signIn("bob", "10.0.0.2:7002");
  const carol = h.signIn("carol", "10.0.0.3:7003");
  h.group("g", alice, { bob });
  return { h, alice, bob, carol };
}

interface Listed {
  name: string;
  size: number;
  sha1: string;
  seeders: number;
  partial: number;
}

function listed(h: Harness, token: string, group = "g"): Listed[] {
  return okData(h.read("list_files", { group }, token)).files as Listed[];
}

Deno.test("share_file registers the file with the caller as a complete source", () => {
  const { h, alice, bob } = world();
  const args = fileArgs("g", "notes.txt");
  assert.deepEqual(h.ok("share_file", args, alice), {
    group: "g",
    name: "notes.txt",
    sha1: args.sha1,
    pieces: 3,
    newSource: true,
  });
  assert.deepEqual(listed(h, bob), [
    { name: "notes.txt", size: args.size, sha1: args.sha1, seeders: 1, partial: 0 },
  ]);
  const f = h.state.file("g", "notes.txt")!;
  assert.equal(f.pieces, args.pieces);
  assert.equal(f.sources.get("alice")!.count, 3);
});

Deno.test("share_file requires membership of an existing group", () => {
  const { h, bob, carol } = world();
  h.fails("share_file", fileArgs("g", "f"), carol, "not a member of group g");
  h.fails("share_file", fileArgs("nope", "f"), bob, "no group nope");
});

Deno.test("share_file rejects names that are not one path component", () => {
  const { h, alice } = world();
  for (const name of ["../x", "a/b", "a\\b", "..", ".", "", "tab\there"]) {
    const shown = name.replace(/\t/g, "?");
    h.fails(
      "share_file",
      fileArgs("g", name),
      alice,
      `invalid file name "${shown}": it must be one path component`,
    );
  }
  h.fails(
    "share_file",
    fileArgs("g", "é".repeat(128)),
    alice,
    "invalid file name: longer than 255 bytes",
  );
});

Deno.test("share_file rejects piece hashes that do not match the size", () => {
  const { h, alice } = world();
  const args = fileArgs("g", "f");
  const error = "argument pieces must be 3 SHA-1 digests in hex";
  h.fails("share_file", { ...args, pieces: (args.pieces as string).slice(40) }, alice, error);
  h.fails("share_file", { ...args, pieces: args.pieces + "0".repeat(40) }, alice, error);
  h.fails("share_file", { ...args, pieces: "X".repeat(120) }, alice, error);
  h.fails("share_file", { ...args, sha1: "abc" }, alice, "argument sha1 must be 40 hex digits");
  h.fails(
    "share_file",
    { ...args, pieceSize: PIECE + 1 },
    alice,
    "argument pieceSize must be a power of two",
  );
  h.fails(
    "share_file",
    { ...args, pieceSize: PIECE / 2 },
    alice,
    `argument pieceSize must be an integer from ${PIECE} to ${16 * 1024 * 1024}`,
  );
  h.fails(
    "share_file",
    { ...args, size: -1 },
    alice,
    `argument size must be an integer from 0 to ${2 ** 40}`,
  );
  h.fails(
    "share_file",
    { ...args, size: "10" },
    alice,
    `argument size must be an integer from 0 to ${2 ** 40}`,
  );
});

Deno.test("a different file under a shared name is refused; the same file adds a source", () => {
  const { h, alice, bob } = world();
  h.ok("share_file", fileArgs("g", "f"), alice);
  h.fails(
    "share_file",
    fileArgs("g", "f", { variant: 1 }),
    bob,
    "a different file named f is already shared in group g",
  );
  assert.equal(h.ok("share_file", fileArgs("g", "f"), bob).newSource, true);
  assert.equal(h.ok("share_file", fileArgs("g", "f"), bob).newSource, false);
  assert.deepEqual([...h.state.file("g", "f")!.sources.keys()], ["alice", "bob"]);
  assert.equal(listed(h, alice)[0]!.seeders, 2);
});

Deno.test("an empty file has no pieces and is complete", () => {
  const { h, alice, bob } = world();
  h.ok("share_file", fileArgs("g", "empty", { pieces: 0 }), alice);
  const data = okData(h.read("lookup_file", { group: "g", name: "empty" }, bob));
  assert.deepEqual(data.peers, [{ user: "alice", addr: "10.0.0.1:7001", have: "all" }]);
});

Deno.test("stop_share removes the caller's source; the file goes with its last source", () => {
  const { h, alice, bob } = world();
  h.ok("share_file", fileArgs("g", "f"), alice);
  h.ok("share_file", fileArgs("g", "f"), bob);
  assert.deepEqual(h.ok("stop_share", { group: "g", name: "f" }, alice), {
    group: "g",
    name: "f",
    removed: false,
  });
  assert.deepEqual([...h.state.file("g", "f")!.sources.keys()], ["bob"]);
  h.fails("stop_share", { group: "g", name: "f" }, alice, "you do not share f in group g");
  assert.deepEqual(h.ok("stop_share", { group: "g", name: "f" }, bob), {
    group: "g",
    name: "f",
    removed: true,
  });
  assert.deepEqual(listed(h, bob), []);
  assert.deepEqual(h.read("lookup_file", { group: "g", name: "f" }, bob), {
    ok: false,
    error: "no file f in group g",
  });
});

Deno.test("stop_share requires membership", () => {
  const { h, alice, carol } = world();
  h.ok("share_file", fileArgs("g", "f"), alice);
  h.fails("stop_share", { group: "g", name: "f" }, carol, "not a member of group g");
  h.fails("stop_share", { group: "x", name: "f" }, carol, "no group x");
  h.fails(
    "stop_share",
    { group: "g", name: "../f" },
    alice,
    'invalid file name "../f": it must be one path component',
  );
});

Deno.test("report_pieces makes a partial source that becomes a seeder when complete", () => {
  const { h, alice, bob } = world();
  h.ok("share_file", fileArgs("g", "f"), alice);
  assert.deepEqual(h.ok("report_pieces", { group: "g", name: "f", pieces: [0, 2, 2] }, bob), {
    have: 2,
    of: 3,
  });
  const counts = () => {
    const { seeders, partial } = listed(h, alice)[0]!;
    return { seeders, partial };
  };
  assert.deepEqual(counts(), { seeders: 1, partial: 1 });
  // pieces 0 and 2 of 3: bits 1010 0000
  const peers = okData(h.read("lookup_file", { group: "g", name: "f" }, alice)).peers;
  assert.deepEqual(peers, [{ user: "bob", addr: "10.0.0.2:7002", have: btoa("\xa0") }]);
  assert.deepEqual(h.ok("report_pieces", { group: "g", name: "f", pieces: [1] }, bob), {
    have: 3,
    of: 3,
  });
  assert.deepEqual(counts(), { seeders: 2, partial: 0 });
  const again = okData(h.read("lookup_file", { group: "g", name: "f" }, alice)).peers;
  assert.deepEqual(again, [{ user: "bob", addr: "10.0.0.2:7002", have: "all" }]);
});

Deno.test("report_pieces rejects bad piece lists, unknown files and non-members", () => {
  const { h, alice, bob, carol } = world();
  h.ok("share_file", fileArgs("g", "f"), alice);
  const error = "argument pieces must list piece numbers from 0 to 2";
  for (const pieces of [[3], [-1], [0.5], ["0"], [0, 1, 2, 0], "0", undefined]) {
    h.fails("report_pieces", { group: "g", name: "f", pieces }, bob, error);
  }
  h.fails(
    "report_pieces",
    { group: "g", name: "nope", pieces: [0] },
    bob,
    "no file nope in group g",
  );
  h.fails(
    "report_pieces",
    { group: "g", name: "f", pieces: [0] },
    carol,
    "not a member of group g",
  );
});

Deno.test("list_files is for members only and sorted by name", () => {
  const { h, alice, bob, carol } = world();
  h.ok("share_file", fileArgs("g", "zeta"), alice);
  h.ok("share_file", fileArgs("g", "alpha"), bob);
  assert.deepEqual(listed(h, bob).map((f) => f.name), ["alpha", "zeta"]);
  assert.deepEqual(h.read("list_files", { group: "g" }, carol), {
    ok: false,
    error: "not a member of group g",
  });
  h.ok("join_group", { group: "g" }, carol);
  assert.deepEqual(h.read("list_files", { group: "g" }, carol), {
    ok: false,
    error: "not a member of group g",
  });
  assert.deepEqual(h.read("list_files", { group: "x" }, carol), { ok: false, error: "no group x" });
});

Deno.test("list_files and lookup_file count only sources that are online", () => {
  const { h, alice, bob } = world();
  h.ok("share_file", fileArgs("g", "f"), alice);
  // Every command withdraws the shares of a user who goes offline, so an
  // offline source can only come from an op applied as is (as from the log).
  h.applyOp({ kind: "create_user", user: "dave", salt: "", hash: "", iterations: 1, at: 0 });
  h.applyOp({ kind: "join_group", user: "dave", group: "g" });
  h.applyOp({ kind: "accept_request", user: "alice", group: "g", member: "dave" });
  const f = fileArgs("g", "f");
  h.applyOp({
    kind: "share_file",
    user: "dave",
    group: "g",
    name: "f",
    size: f.size as number,
    pieceSize: PIECE,
    pieces: f.pieces as string,
    sha1: f.sha1 as string,
    at: 0,
  });
  assert.equal(h.state.file("g", "f")!.sources.size, 2);
  assert.deepEqual(listed(h, bob), [
    { name: "f", size: f.size, sha1: f.sha1, seeders: 1, partial: 0 },
  ]);
  const peers = okData(h.read("lookup_file", { group: "g", name: "f" }, bob)).peers;
  assert.deepEqual(peers, [{ user: "alice", addr: "10.0.0.1:7001", have: "all" }]);
});

Deno.test("lookup_file describes the file and lists the other online peers", () => {
  const { h, alice, bob } = world();
  const args = fileArgs("g", "f");
  h.ok("share_file", args, alice);
  h.ok("share_file", args, bob);
  assert.deepEqual(okData(h.read("lookup_file", { group: "g", name: "f" }, alice)), {
    group: "g",
    name: "f",
    size: args.size,
    pieceSize: PIECE,
    pieces: args.pieces,
    sha1: args.sha1,
    peers: [{ user: "bob", addr: "10.0.0.2:7002", have: "all" }],
  });
  h.ok("stop_share", { group: "g", name: "f" }, bob);
  assert.deepEqual(okData(h.read("lookup_file", { group: "g", name: "f" }, alice)).peers, []);
});

Deno.test("lookup_file is for members only", () => {
  const { h, alice, carol } = world();
  h.ok("share_file", fileArgs("g", "f"), alice);
  assert.deepEqual(h.read("lookup_file", { group: "g", name: "f" }, carol), {
    ok: false,
    error: "not a member of group g",
  });
  assert.deepEqual(h.read("lookup_file", { group: "g", name: "a/b" }, alice), {
    ok: false,
    error: 'invalid file name "a/b": it must be one path component',
  });
  assert.deepEqual(h.read("lookup_file", { group: "g", name: "x" }, alice), {
    ok: false,
    error: "no file x in group g",
  });
});

Deno.test("set_serving false keeps a peer's session and offers but leaves it out of lookups until true", () => {
  const { h, alice, bob, carol } = world();
  const args = fileArgs("g", "f");
  h.ok("share_file", args, alice);
  h.ok("share_file", args, bob);
  const lookedUp = (token: string) =>
    (okData(h.read("lookup_file", { group: "g", name: "f" }, token)).peers as { user: string }[])
      .map((p) => p.user);
  assert.deepEqual(h.ok("set_serving", { serving: false }, alice), {
    user: "alice",
    serving: false,
  });
  assert.deepEqual(lookedUp(bob), []);
  assert.deepEqual(listed(h, bob)[0]?.seeders, 1, "only bob counts as a seeder");
  assert.equal(h.state.file("g", "f")!.sources.has("alice"), true, "the offer is kept");
  assert.equal(okData(h.read("whoami", {}, alice)).user, "alice", "the session is kept");
  h.ok("set_serving", { serving: true }, alice);
  assert.deepEqual(lookedUp(bob), ["alice"]);
  h.fails("set_serving", { serving: "no" }, alice, "argument serving must be true or false");
  h.fails("set_serving", { serving: false }, undefined, "not logged in");
  h.fails("set_serving", { serving: false }, carol + "x", "not logged in");
});
