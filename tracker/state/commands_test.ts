import assert from "node:assert/strict";
import { READ_COMMANDS, WRITE_COMMANDS } from "./commands.ts";
import { CREDENTIALS, fileArgs, Harness, okData, T0, WRONG_HASH } from "./_test_harness.ts";

const ID_ERROR = (kind: string, id: string) =>
  `invalid ${kind} id "${id}": use 1-64 of A-Z a-z 0-9 _ . -`;

Deno.test("create_user stores the proposed credentials and the time", () => {
  const h = new Harness();
  assert.deepEqual(h.ok("create_user", { user: "alice" }), { user: "alice" });
  assert.deepEqual(h.state.users.get("alice"), { id: "alice", ...CREDENTIALS, created: T0 + 1 });
  assert.equal(h.state.index, 1);
});

Deno.test("create_user rejects an invalid or missing user id", () => {
  const h = new Harness();
  h.fails("create_user", { user: "bad id!" }, undefined, ID_ERROR("user", "bad id!"));
  h.fails(
    "create_user",
    { user: "x".repeat(65) },
    undefined,
    ID_ERROR("user", "x".repeat(40) + "…"),
  );
  h.fails("create_user", {}, undefined, "missing argument user");
  assert.equal(h.entries.length, 0);
});

Deno.test("create_user rejects a duplicate user", () => {
  const h = new Harness();
  h.ok("create_user", { user: "alice" });
  h.fails("create_user", { user: "alice" }, undefined, "user alice already exists");
});

Deno.test("login with the right password opens a session with the proposed token", () => {
  const h = new Harness();
  h.ok("create_user", { user: "alice" });
  const data = okData(h.write("login", { user: "alice", addr: "10.0.0.1:7000" }));
  assert.deepEqual(data, { user: "alice", token: "token-2" });
  assert.deepEqual(okData(h.read("whoami", {}, "token-2")), {
    user: "alice",
    addr: "10.0.0.1:7000",
  });
  assert.equal(h.state.sessionByUser.has("alice"), true);
});

Deno.test("login fails for an unknown user, a wrong password or a bad address", () => {
  const h = new Harness();
  h.ok("create_user", { user: "alice" });
  const addr = "10.0.0.1:7000";
  h.fails("login", { user: "bob", addr }, undefined, "no user bob");
  for (const loginHash of [WRONG_HASH, "aa", undefined]) {
    const before = h.state.index;
    const r = h.write("login", { user: "alice", addr }, undefined, { loginHash });
    assert.deepEqual(r, { ok: false, error: "wrong password for alice" });
    assert.equal(h.state.index, before);
  }
  h.fails(
    "login",
    { user: "alice", addr: "nope" },
    undefined,
    'Invalid address "nope": expected ip:port',
  );
  h.fails(
    "login",
    { user: "alice", addr: "10.0.0.1:70000" },
    undefined,
    'Invalid port in "10.0.0.1:70000": expected 1-65535',
  );
  h.fails("login", { user: "alice" }, undefined, "missing argument addr");
  assert.equal(h.state.sessionByUser.has("alice"), false);
});

Deno.test("login from another address moves the session and withdraws the user's shares", () => {
  const h = new Harness();
  const old = h.signIn("alice", "10.0.0.1:7000");
  h.group("g", old);
  h.ok("share_file", fileArgs("g", "f"), old);
  const now = h.signIn("alice", "10.0.0.2:7000");
  assert.deepEqual(h.read("whoami", {}, old), { ok: false, error: "not logged in" });
  assert.deepEqual(okData(h.read("whoami", {}, now)), { user: "alice", addr: "10.0.0.2:7000" });
  assert.equal(h.state.sessions.size, 1);
  assert.equal(h.state.file("g", "f"), undefined);
});

Deno.test("login again from the same address keeps the user's shares", () => {
  const h = new Harness();
  const old = h.signIn("alice", "10.0.0.1:7000");
  h.group("g", old);
  h.ok("share_file", fileArgs("g", "f"), old);
  const now = h.signIn("alice", "10.0.0.1:7000");
  assert.deepEqual(h.read("whoami", {}, old), { ok: false, error: "not logged in" });
  assert.deepEqual(okData(h.read("list_files", { group: "g" }, now)).files, [
    {
      name: "f",
      size: fileArgs("g", "f").size,
      sha1: fileArgs("g", "f").sha1,
      seeders: 1,
      partial: 0,
    },
  ]);
});

Deno.test("login stores the address as ip:port however the client spelled it", () => {
  // parseEndpoint() accepts "ip port" and surrounding blanks; the session must
  // hold the canonical form, or the one-user-per-address rule and the
  // addresses handed out by lookup_file depend on the spelling.
  const h = new Harness();
  const alice = h.signIn("alice", " 10.0.0.1 7000 ");
  assert.deepEqual(okData(h.read("whoami", {}, alice)), { user: "alice", addr: "10.0.0.1:7000" });
  h.signIn("bob", "10.0.0.1:7000");
  assert.deepEqual(h.read("whoami", {}, alice), { ok: false, error: "not logged in" });
});

Deno.test("another user logging in at the same address ends the first session and its shares", () => {
  const h = new Harness();
  const alice = h.signIn("alice", "10.0.0.1:7000");
  const bob = h.signIn("bob", "10.0.0.2:7000");
  h.group("g", alice, { bob });
  h.ok("share_file", fileArgs("g", "f"), alice);
  h.signIn("carol", "10.0.0.1:7000");
  assert.deepEqual(h.read("whoami", {}, alice), { ok: false, error: "not logged in" });
  assert.equal(h.state.sessionByUser.has("alice"), false);
  assert.equal(h.state.sessionByUser.has("bob"), true);
  assert.deepEqual(okData(h.read("list_files", { group: "g" }, bob)).files, []);
});

Deno.test("logout ends the session and withdraws the user's shares", () => {
  const h = new Harness();
  const alice = h.signIn("alice");
  const bob = h.signIn("bob");
  h.group("g", alice, { bob });
  h.ok("share_file", fileArgs("g", "f"), alice);
  h.ok("share_file", fileArgs("g", "f2"), bob);
  assert.deepEqual(h.ok("logout", {}, alice), { user: "alice" });
  assert.equal(h.state.sessionByUser.has("alice"), false);
  assert.deepEqual(h.read("whoami", {}, alice), { ok: false, error: "not logged in" });
  h.fails("logout", {}, alice, "not logged in");
  assert.equal(h.state.file("g", "f"), undefined);
  assert.deepEqual([...h.state.file("g", "f2")!.sources.keys()], ["bob"]);
});

Deno.test("every command but create_user and login answers not logged in without a session", () => {
  const h = new Harness();
  const alice = h.signIn("alice");
  h.group("g", alice);
  const args = { ...fileArgs("g", "f"), user: "alice", pieces: [0] };
  for (const token of [undefined, "no-such-token"]) {
    for (const cmd of WRITE_COMMANDS) {
      if (cmd === "create_user" || cmd === "login") continue;
      h.fails(cmd, args, token, "not logged in");
    }
    for (const cmd of READ_COMMANDS) {
      assert.deepEqual(h.read(cmd, args, token), { ok: false, error: "not logged in" }, cmd);
    }
  }
});

Deno.test("an unknown command is answered with an error", () => {
  const h = new Harness();
  const alice = h.signIn("alice");
  h.fails("frobnicate", {}, alice, "unknown command frobnicate");
  assert.deepEqual(h.read("frobnicate", {}, alice), {
    ok: false,
    error: "unknown command frobnicate",
  });
});

Deno.test("create_group makes the caller owner and only member", () => {
  const h = new Harness();
  const alice = h.signIn("alice");
  assert.deepEqual(h.ok("create_group", { group: "g" }, alice), { group: "g", owner: "alice" });
  assert.deepEqual(h.state.groups.get("g"), {
    id: "g",
    owner: "alice",
    members: ["alice"],
    pending: [],
    created: T0 + 3,
  });
  h.fails("create_group", { group: "g" }, alice, "group g already exists");
  h.fails("create_group", { group: "a/b" }, alice, ID_ERROR("group", "a/b"));
  h.fails("create_group", {}, alice, "missing argument group");
});

Deno.test("join_group files a request the owner sees in list_requests", () => {
  const h = new Harness();
  const alice = h.signIn("alice");
  const bob = h.signIn("bob");
  h.group("g", alice);
  assert.deepEqual(h.ok("join_group", { group: "g" }, bob), { group: "g", owner: "alice" });
  assert.deepEqual(okData(h.read("list_requests", { group: "g" }, alice)), {
    group: "g",
    requests: ["bob"],
  });
  h.fails("join_group", { group: "g" }, bob, "join request for group g is already pending");
  h.fails("join_group", { group: "g" }, alice, "already a member of group g");
  h.fails("join_group", { group: "nope" }, bob, "no group nope");
});

Deno.test("list_requests is for the owner only", () => {
  const h = new Harness();
  const alice = h.signIn("alice");
  const bob = h.signIn("bob");
  h.group("g", alice, { bob });
  assert.deepEqual(h.read("list_requests", { group: "g" }, bob), {
    ok: false,
    error: "not the owner of group g",
  });
  assert.deepEqual(h.read("list_requests", { group: "h" }, alice), {
    ok: false,
    error: "no group h",
  });
});

Deno.test("accept_request makes the requester a member", () => {
  const h = new Harness();
  const alice = h.signIn("alice");
  const bob = h.signIn("bob");
  h.group("g", alice);
  h.ok("join_group", { group: "g" }, bob);
  h.fails("accept_request", { group: "g", user: "bob" }, bob, "not the owner of group g");
  h.fails(
    "accept_request",
    { group: "g", user: "carol" },
    alice,
    "no join request from carol in group g",
  );
  h.fails("accept_request", { group: "h", user: "bob" }, alice, "no group h");
  assert.deepEqual(h.ok("accept_request", { group: "g", user: "bob" }, alice), {
    group: "g",
    user: "bob",
  });
  assert.deepEqual(h.state.groups.get("g")!.members, ["alice", "bob"]);
  assert.deepEqual(h.state.groups.get("g")!.pending, []);
  h.fails(
    "accept_request",
    { group: "g", user: "bob" },
    alice,
    "no join request from bob in group g",
  );
});

Deno.test("reject_request drops the request without membership", () => {
  const h = new Harness();
  const alice = h.signIn("alice");
  const bob = h.signIn("bob");
  h.group("g", alice);
  h.ok("join_group", { group: "g" }, bob);
  h.fails("reject_request", { group: "g", user: "bob" }, bob, "not the owner of group g");
  h.fails(
    "reject_request",
    { group: "g", user: "carol" },
    alice,
    "no join request from carol in group g",
  );
  assert.deepEqual(h.ok("reject_request", { group: "g", user: "bob" }, alice), {
    group: "g",
    user: "bob",
  });
  assert.deepEqual(h.state.groups.get("g")!.members, ["alice"]);
  assert.deepEqual(h.state.groups.get("g")!.pending, []);
  h.ok("join_group", { group: "g" }, bob);
});

Deno.test("leave_group fails for a non-member, a pending requester and a missing group", () => {
  const h = new Harness();
  const alice = h.signIn("alice");
  const bob = h.signIn("bob");
  h.group("g", alice);
  h.fails("leave_group", { group: "g" }, bob, "not a member of group g");
  h.ok("join_group", { group: "g" }, bob);
  h.fails("leave_group", { group: "g" }, bob, "not a member of group g");
  h.fails("leave_group", { group: "h" }, alice, "no group h");
});

Deno.test("an owner leaving hands the group to the earliest-joined remaining member", () => {
  const h = new Harness();
  const alice = h.signIn("alice");
  const bob = h.signIn("bob");
  const carol = h.signIn("carol");
  h.group("g", alice, { carol, bob });
  assert.deepEqual(h.ok("leave_group", { group: "g" }, alice), {
    group: "g",
    owner: "carol",
    deleted: false,
  });
  assert.deepEqual(h.state.groups.get("g")!.members, ["carol", "bob"]);
  assert.deepEqual(okData(h.read("list_requests", { group: "g" }, carol)).requests, []);
});

Deno.test("leaving withdraws the member's shares in that group only", () => {
  const h = new Harness();
  const alice = h.signIn("alice");
  const bob = h.signIn("bob");
  h.group("g", alice, { bob });
  h.group("other", bob);
  h.ok("share_file", fileArgs("g", "both"), alice);
  h.ok("share_file", fileArgs("g", "both"), bob);
  h.ok("share_file", fileArgs("g", "mine"), bob);
  h.ok("share_file", fileArgs("other", "kept"), bob);
  h.ok("leave_group", { group: "g" }, bob);
  assert.deepEqual([...h.state.file("g", "both")!.sources.keys()], ["alice"]);
  assert.equal(h.state.file("g", "mine"), undefined);
  assert.ok(h.state.file("other", "kept")?.sources.has("bob"));
});

Deno.test("the last member leaving deletes the group and its files", () => {
  const h = new Harness();
  const alice = h.signIn("alice");
  const bob = h.signIn("bob");
  h.group("g", alice);
  h.ok("join_group", { group: "g" }, bob);
  h.ok("share_file", fileArgs("g", "f"), alice);
  assert.deepEqual(h.ok("leave_group", { group: "g" }, alice), { group: "g", deleted: true });
  assert.equal(h.state.groups.has("g"), false);
  assert.equal(h.state.files.size, 0);
  h.fails("join_group", { group: "g" }, bob, "no group g");
  h.ok("create_group", { group: "g" }, bob);
});

Deno.test("list_groups lists every group with the caller's member and pending flags", () => {
  const h = new Harness();
  const alice = h.signIn("alice");
  const bob = h.signIn("bob");
  h.group("a", alice, { bob });
  h.group("b", alice);
  h.group("c", alice);
  h.ok("join_group", { group: "b" }, bob);
  assert.deepEqual(okData(h.read("list_groups", {}, bob)).groups, [
    { group: "a", owner: "alice", members: 2, member: true, pending: false },
    { group: "b", owner: "alice", members: 1, member: false, pending: true },
    { group: "c", owner: "alice", members: 1, member: false, pending: false },
  ]);
});
