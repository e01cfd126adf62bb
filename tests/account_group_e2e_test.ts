/**
 * Accounts and groups through the real peer shell: several users, each in
 * their own `shoal peer` process, against a real tracker pair.
 */
import assert from "node:assert/strict";
import { freePort } from "./harness/ports.ts";
import type { PeerShell } from "./harness/shell.ts";
import { TrackerPair } from "./harness/tracker_pair.ts";

/** Parses the shell's `list_groups` table into `{group: [owner, members, you]}`. */
function groups(lines: string[]): Record<string, string[]> {
  if (lines.length === 1 && lines[0] === "no groups") return {};
  assert.deepEqual(lines[0]?.split(/\s+/), ["GROUP", "OWNER", "MEMBERS", "YOU"], lines.join("\n"));
  const out: Record<string, string[]> = {};
  for (const line of lines.slice(1)) {
    const [group, ...rest] = line.split(/\s+/);
    out[group!] = rest;
  }
  return out;
}

/** Creates `user` and logs in, checking the shell's answers. */
async function signUp(shell: PeerShell, user: string): Promise<void> {
  assert.deepEqual(await shell.run(`create_user ${user} pw-${user}`), [`created user ${user}`]);
  assert.deepEqual(await shell.run(`login ${user} pw-${user}`), [`logged in as ${user}`]);
}

Deno.test("peer shells of four users run a group's whole life: join, accept, reject, leave, hand over", async () => {
  const pair = await TrackerPair.start();
  const shells: PeerShell[] = [];
  try {
    const alice = await pair.shell();
    const bob = await pair.shell();
    const carol = await pair.shell();
    shells.push(alice, bob, carol);

    await signUp(alice, "alice");
    assert.deepEqual(await alice.run("create_group g1"), ["created group g1 (owner alice)"]);
    assert.deepEqual(groups(await alice.run("list_groups")), { g1: ["alice", "1", "member"] });

    await signUp(bob, "bob");
    assert.deepEqual(groups(await bob.run("list_groups")), { g1: ["alice", "1", "-"] });
    assert.deepEqual(await bob.run("join_group g1"), ["requested to join g1 (owner alice)"]);
    assert.deepEqual(groups(await bob.run("list_groups")), { g1: ["alice", "1", "pending"] });
    assert.deepEqual(await alice.run("list_requests g1"), ["bob"]);
    assert.deepEqual(await alice.run("accept_request g1 bob"), ["accepted bob into g1"]);
    assert.deepEqual(await alice.run("list_requests g1"), ["no pending requests for g1"]);
    assert.deepEqual(groups(await bob.run("list_groups")), { g1: ["alice", "2", "member"] });

    // The reject path, with a third user.
    await signUp(carol, "carol");
    assert.deepEqual(await carol.run("join_group g1"), ["requested to join g1 (owner alice)"]);
    assert.deepEqual(await alice.run("list_requests g1"), ["carol"]);
    assert.deepEqual(await alice.run("reject_request g1 carol"), [
      "rejected carol's request to join g1",
    ]);
    assert.deepEqual(await alice.run("list_requests g1"), ["no pending requests for g1"]);
    assert.deepEqual(groups(await carol.run("list_groups")), { g1: ["alice", "2", "-"] });
    assert.deepEqual(await alice.run("accept_request g1 carol"), [
      "error: no join request from carol in group g1",
    ]);

    // A rejected user may ask again, and be accepted this time.
    assert.deepEqual(await carol.run("join_group g1"), ["requested to join g1 (owner alice)"]);
    assert.deepEqual(await alice.run("accept_request g1 carol"), ["accepted carol into g1"]);
    assert.deepEqual(groups(await carol.run("list_groups")), { g1: ["alice", "3", "member"] });

    // A fourth user's request is still pending when the owner leaves.
    const dave = await pair.shell();
    shells.push(dave);
    await signUp(dave, "dave");
    assert.deepEqual(await dave.run("join_group g1"), ["requested to join g1 (owner alice)"]);

    // The owner leaves: the oldest remaining member, bob (not carol), owns the group.
    assert.deepEqual(await alice.run("leave_group g1"), ["left g1 (owner bob)"]);
    assert.deepEqual(groups(await bob.run("list_groups")), { g1: ["bob", "2", "member"] });
    assert.deepEqual(groups(await alice.run("list_groups")), { g1: ["bob", "2", "-"] });
    assert.deepEqual(await alice.run("list_requests g1"), ["error: not the owner of group g1"]);
    assert.deepEqual(await alice.run("accept_request g1 dave"), [
      "error: not the owner of group g1",
    ]);
    assert.deepEqual(await bob.run("list_requests g1"), ["dave"]);
    assert.deepEqual(await bob.run("accept_request g1 dave"), ["accepted dave into g1"]);
    assert.deepEqual(groups(await dave.run("list_groups")), { g1: ["bob", "3", "member"] });

    // Ownership keeps passing to the oldest member; the last one out deletes the group.
    assert.deepEqual(await bob.run("leave_group g1"), ["left g1 (owner carol)"]);
    assert.deepEqual(await carol.run("leave_group g1"), ["left g1 (owner dave)"]);
    assert.deepEqual(await dave.run("leave_group g1"), [
      "left g1; it had no members left and was deleted",
    ]);
    assert.deepEqual(await alice.run("list_groups"), ["no groups"]);

    for (const shell of shells.splice(0)) {
      const run = await shell.close();
      assert.equal(run.code, 0, "the shell exits 0 at end of input");
      assert.deepEqual(run.stdout, [], "nothing printed after the last command");
    }
  } finally {
    for (const shell of shells) await shell.close();
    await pair.close();
  }
});

Deno.test("peer shell prints exactly one error line for each refused command", async () => {
  const pair = await TrackerPair.start();
  const shells: PeerShell[] = [];
  try {
    const alice = await pair.shell();
    const bob = await pair.shell();
    shells.push(alice, bob);

    // Before logging in.
    assert.deepEqual(await bob.run("list_groups"), ["error: not logged in"]);
    assert.deepEqual(await bob.run("create_group g1"), ["error: not logged in"]);
    assert.deepEqual(await bob.run("login nobody secret"), ["error: no user nobody"]);

    await signUp(alice, "alice");
    assert.deepEqual(await alice.run("create_group g1"), ["created group g1 (owner alice)"]);
    await signUp(bob, "bob");

    const cases: [PeerShell, string, string | RegExp][] = [
      [bob, "create_user alice other", "error: user alice already exists"],
      [bob, "login alice wrong", "error: wrong password for alice"],
      [bob, "create_group g1", "error: group g1 already exists"],
      [bob, "join_group nope", "error: no group nope"],
      [bob, "leave_group g1", "error: not a member of group g1"],
      [bob, "accept_request g1 bob", "error: not the owner of group g1"],
      [bob, "reject_request g1 bob", "error: not the owner of group g1"],
      [bob, "list_requests g1", "error: not the owner of group g1"],
      [alice, "accept_request g1 bob", "error: no join request from bob in group g1"],
      [alice, "join_group g1", "error: already a member of group g1"],
      [bob, "create_group bad/id", /^error: invalid group id "bad\/id"/],
      [bob, "login alice", "error: usage: login <user_id> <passwd>"],
      [bob, "frobnicate g1", /^error: unknown command "frobnicate"/],
    ];
    for (const [shell, line, expected] of cases) {
      const out = await shell.run(line);
      assert.equal(out.length, 1, `${line}: ${JSON.stringify(out)}`);
      if (typeof expected === "string") assert.equal(out[0], expected, line);
      else assert.match(out[0]!, expected, line);
    }
    assert.deepEqual(await bob.run("join_group g1"), ["requested to join g1 (owner alice)"]);
    assert.deepEqual(await bob.run("join_group g1"), [
      "error: join request for group g1 is already pending",
    ]);
    // None of the refusals changed anything, and bob is still logged in.
    assert.deepEqual(groups(await bob.run("list_groups")), { g1: ["alice", "1", "pending"] });
    assert.deepEqual(await alice.run("list_requests g1"), ["bob"]);

    for (const shell of shells.splice(0)) assert.equal((await shell.close()).code, 0);
  } finally {
    for (const shell of shells) await shell.close();
    await pair.close();
  }
});

Deno.test("a session kept in --state-dir is resumed by a new peer process until logout", async () => {
  const pair = await TrackerPair.start();
  const stateDir = `${pair.dir}/alice-peer`;
  const addr = `127.0.0.1:${freePort()}`;
  try {
    const first = await pair.peer([
      "create_user alice pw",
      "login alice pw",
      "create_group g1",
    ], { stateDir, addr });
    assert.equal(first.code, 0);
    assert.deepEqual(first.stdout, [
      "created user alice",
      "logged in as alice",
      "created group g1 (owner alice)",
    ]);

    const second = await pair.peer(["whoami", "list_groups"], { stateDir, addr });
    assert.equal(second.code, 0);
    assert.deepEqual(second.stdout.slice(0, 2), [
      "resumed session as alice",
      `logged in as alice (peer address ${addr})`,
    ]);
    assert.deepEqual(groups(second.stdout.slice(2)), { g1: ["alice", "1", "member"] });

    // Another state directory has no session.
    const stranger = await pair.peer(["whoami"], { stateDir: `${pair.dir}/other-peer` });
    assert.deepEqual(stranger.stdout, ["error: not logged in"]);

    const third = await pair.peer(["logout"], { stateDir, addr });
    assert.deepEqual(third.stdout, ["resumed session as alice", "logged out alice"]);

    const fourth = await pair.peer(["whoami"], { stateDir, addr });
    assert.equal(fourth.code, 0);
    assert.deepEqual(fourth.stdout, ["error: not logged in"]);
  } finally {
    await pair.close();
  }
});
