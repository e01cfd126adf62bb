import assert from "node:assert/strict";
import fc from "fast-check";
import { query } from "./commands.ts";
import type { LogEntry, Op } from "./ops.ts";
import {
  CONFLICT_LIMIT,
  DEDUP_LIMIT,
  pieceCount,
  type StateSnapshot,
  TrackerState,
} from "./state.ts";
import { CREDENTIALS, fileArgs, Harness, PIECE, WRONG_HASH } from "./_test_harness.ts";

function epochEntry(index: number, reqId?: string): LogEntry {
  const e: LogEntry = { index, epoch: 7, op: { kind: "epoch", epoch: 7, tracker: 1 } };
  if (reqId !== undefined) e.reqId = reqId;
  return e;
}

/** A state with users online and offline, groups with requests, full and partial sources. */
function richState(): Harness {
  const h = new Harness();
  const alice = h.signIn("alice", "10.0.0.1:7001");
  const bob = h.signIn("bob", "10.0.0.2:7002");
  const carol = h.signIn("carol", "10.0.0.3:7003");
  h.ok("create_user", { user: "dave" });
  h.group("g", alice, { bob });
  h.group("h", carol);
  h.ok("join_group", { group: "h" }, alice);
  h.ok("share_file", fileArgs("g", "f", { pieces: 11 }), alice);
  h.ok("report_pieces", { group: "g", name: "f", pieces: [0, 3, 9, 10] }, bob);
  h.ok("share_file", fileArgs("h", "empty", { pieces: 0 }), carol);
  h.write("join_group", { group: "nope" }, bob); // a failure, remembered for dedup too
  h.applyOp({ kind: "set_grant_key", privateKey: "priv", publicKey: "pub" });
  return h;
}

Deno.test("pieceCount() rounds up to whole pieces", () => {
  assert.equal(pieceCount(0, PIECE), 0);
  assert.equal(pieceCount(1, PIECE), 1);
  assert.equal(pieceCount(PIECE, PIECE), 1);
  assert.equal(pieceCount(PIECE + 1, PIECE), 2);
});

Deno.test("apply() throws on an entry out of order and leaves the state as it was", () => {
  const s = new TrackerState();
  assert.throws(() => s.apply(epochEntry(2)), /Log entry 2 applied after 0/);
  assert.equal(s.index, 0);
  s.apply(epochEntry(1));
  assert.throws(() => s.apply(epochEntry(1)), /Log entry 1 applied after 1/);
  assert.deepEqual([s.index, s.epoch], [1, 7]);
});

Deno.test("apply() records the result of an entry with a request id, failures too", () => {
  const h = new Harness();
  const created = h.applyOp(
    { kind: "create_user", user: "alice", ...CREDENTIALS, at: 1 },
    "first",
  );
  const dup = h.applyOp({ kind: "create_user", user: "alice", ...CREDENTIALS, at: 2 }, "second");
  h.applyOp({ kind: "create_group", user: "alice", group: "g", at: 3 });
  assert.deepEqual(h.state.dedup("first"), created);
  assert.deepEqual(created, { ok: true, data: { user: "alice" } });
  assert.deepEqual(h.state.dedup("second"), { ok: false, error: "user alice already exists" });
  assert.equal(dup.ok, false);
  assert.equal(h.state.dedup("third"), undefined);
  assert.equal(h.state.toSnapshot().dedup.length, 2);
});

Deno.test("apply() forgets the oldest request id beyond DEDUP_LIMIT", () => {
  const s = new TrackerState();
  for (let i = 0; i <= DEDUP_LIMIT; i++) s.apply(epochEntry(i + 1, `r${i}`));
  assert.equal(s.dedup("r0"), undefined);
  assert.deepEqual(s.dedup("r1"), { ok: true, data: { epoch: 7 } });
  assert.ok(s.dedup(`r${DEDUP_LIMIT}`));
  assert.equal(s.toSnapshot().dedup.length, DEDUP_LIMIT);
});

Deno.test("apply() re-checks each op and fails it like propose would, changing nothing", () => {
  const h = new Harness();
  const alice = h.signIn("alice");
  h.signIn("bob");
  h.group("g", alice);
  h.ok("share_file", fileArgs("g", "f"), alice);
  const f = fileArgs("g", "f", { variant: 1 });
  const share = { group: "g", name: "f", size: f.size as number, pieceSize: PIECE, at: 0 };
  const cases: [Op, string][] = [
    [{ kind: "create_user", user: "bob", ...CREDENTIALS, at: 0 }, "user bob already exists"],
    [{ kind: "login", user: "zed", token: "t", addr: "1.2.3.4:5", at: 0 }, "no user zed"],
    [{ kind: "logout", token: "nope" }, "not logged in"],
    [{ kind: "create_group", user: "bob", group: "g", at: 0 }, "group g already exists"],
    [{ kind: "join_group", user: "bob", group: "x" }, "no group x"],
    [{ kind: "join_group", user: "alice", group: "g" }, "already a member of group g"],
    [{ kind: "leave_group", user: "bob", group: "g" }, "not a member of group g"],
    [{ kind: "leave_group", user: "bob", group: "x" }, "no group x"],
    [
      { kind: "accept_request", user: "bob", group: "g", member: "bob" },
      "not the owner of group g",
    ],
    [
      { kind: "reject_request", user: "alice", group: "g", member: "bob" },
      "no join request from bob in group g",
    ],
    [{ kind: "accept_request", user: "alice", group: "x", member: "bob" }, "no group x"],
    [
      {
        kind: "share_file",
        user: "bob",
        ...share,
        pieces: f.pieces as string,
        sha1: "1".repeat(40),
      },
      "not a member of group g",
    ],
    [
      {
        kind: "share_file",
        user: "alice",
        ...share,
        pieces: f.pieces as string,
        sha1: f.sha1 as string,
      },
      "a different file named f is already shared in group g",
    ],
    [{ kind: "stop_share", user: "bob", group: "g", name: "f" }, "you do not share f in group g"],
    [
      { kind: "report_pieces", user: "bob", group: "g", name: "x", pieces: [] },
      "no file x in group g",
    ],
  ];
  for (const [op, error] of cases) {
    const before = h.state.toSnapshot();
    assert.deepEqual(h.applyOp(op), { ok: false, error }, op.kind);
    assert.deepEqual({ ...h.state.toSnapshot(), index: before.index }, before, op.kind);
  }
  h.ok("join_group", { group: "g" }, h.state.sessionByUser.get("bob"));
  const pending = { kind: "join_group", user: "bob", group: "g" } as const;
  assert.deepEqual(h.applyOp(pending), {
    ok: false,
    error: "join request for group g is already pending",
  });
});

Deno.test("an epoch entry sets the state's epoch; set_grant_key stores the key pair", () => {
  const h = new Harness();
  assert.deepEqual(h.state.apply(epochEntry(1)), { ok: true, data: { epoch: 7 } });
  assert.equal(h.state.epoch, 7);
  h.applyOp({ kind: "set_grant_key", privateKey: "priv", publicKey: "pub" });
  assert.deepEqual(h.state.grantKey, { privateKey: "priv", publicKey: "pub" });
  assert.equal(h.state.epoch, 1);
});

Deno.test("fromSnapshot(toSnapshot()) rebuilds an equal state, also through JSON", () => {
  const h = richState();
  const snap = h.state.toSnapshot();
  assert.ok(snap.dedup.length > 5 && snap.files.length === 2 && snap.sessions.length === 3);
  assert.deepEqual(TrackerState.fromSnapshot(snap).toSnapshot(), snap);
  const json = JSON.parse(JSON.stringify(snap)) as StateSnapshot;
  const restored = TrackerState.fromSnapshot(json);
  assert.deepEqual(restored.toSnapshot(), snap);
  assert.deepEqual(restored.dedup("req-2"), h.state.dedup("req-2"));
  const alice = h.state.sessionByUser.get("alice")!;
  for (
    const req of [
      { cmd: "list_files", args: { group: "g" }, token: alice },
      { cmd: "lookup_file", args: { group: "g", name: "f" }, token: alice },
      { cmd: "list_groups", args: {}, token: alice },
    ]
  ) {
    assert.deepEqual(query(restored, req), query(h.state, req));
  }
  assert.equal(restored.file("g", "f")!.sources.get("bob")!.count, 4);
  assert.equal(restored.session(h.state.sessionByUser.get("bob"))!.user, "bob");
});

Deno.test("a state rebuilt from a snapshot does not share arrays with it", () => {
  const h = richState();
  const snap = h.state.toSnapshot();
  const copy = structuredClone(snap);
  const restored = TrackerState.fromSnapshot(snap);
  const carol = restored.sessionByUser.get("carol")!;
  restored.apply({
    index: restored.index + 1,
    epoch: 1,
    op: { kind: "accept_request", user: "carol", group: "h", member: "alice" },
  });
  restored.apply({
    index: restored.index + 1,
    epoch: 1,
    op: { kind: "report_pieces", user: "bob", group: "g", name: "f", pieces: [1, 2] },
  });
  restored.apply({ index: restored.index + 1, epoch: 1, op: { kind: "logout", token: carol } });
  assert.deepEqual(snap, copy);
});

const USERS = ["u1", "u2", "u3"];
const GROUPS = ["g1", "g2"];
const NAMES = ["f1", "f2"];
const ADDRS = ["10.0.0.1:1", "10.0.0.2:2", "10.0.0.3:3", "10.0.0.4:4", "10.0.0.5:5"];

const who = fc.constantFrom(...USERS);
const group = fc.constantFrom(...GROUPS);
const name = fc.constantFrom(...NAMES);

/**
 * One client command: who sends it, what, and for login whether the password
 * is wrong. Requests to the owner name no user: the run fills in the group's
 * owner and its first pending requester, so that such commands mostly succeed.
 */
interface Command {
  as: string;
  cmd: string;
  args: Record<string, unknown>;
  wrong?: boolean;
}

const weighted = (weight: number, arbitrary: fc.Arbitrary<Command>) => ({ weight, arbitrary });

const command: fc.Arbitrary<Command> = fc.oneof(
  weighted(
    1,
    fc.record({ as: who, cmd: fc.constant("create_user"), args: fc.record({ user: who }) }),
  ),
  weighted(
    3,
    fc.record({
      as: who,
      cmd: fc.constant("login"),
      args: fc.record({ user: who, addr: fc.constantFrom(...ADDRS) }),
      wrong: fc.boolean(),
    }),
  ),
  weighted(1, fc.record({ as: who, cmd: fc.constant("logout"), args: fc.constant({}) })),
  weighted(
    6,
    fc.record({
      as: who,
      cmd: fc.constantFrom("create_group", "join_group", "leave_group"),
      args: fc.record({ group }),
    }),
  ),
  weighted(
    4,
    fc.record({
      as: fc.constant("owner"),
      cmd: fc.constantFrom("accept_request", "accept_request", "reject_request"),
      args: fc.record({ group }),
    }),
  ),
  weighted(
    4,
    fc.record({
      as: who,
      cmd: fc.constant("share_file"),
      args: fc.tuple(group, name, fc.nat(1)).map(([g, n, v]) => fileArgs(g, n, { variant: v })),
    }),
  ),
  weighted(
    2,
    fc.record({ as: who, cmd: fc.constant("stop_share"), args: fc.record({ group, name }) }),
  ),
  weighted(
    4,
    fc.record({
      as: who,
      cmd: fc.constant("report_pieces"),
      args: fc.record({ group, name, pieces: fc.array(fc.nat(2), { maxLength: 3 }) }),
    }),
  ),
);

const commandLists = fc.array(command, { maxLength: 80, size: "max" });

/** Runs `commands` on a fresh harness where every user is logged in and u1, u2 own a group. */
function run(commands: Command[]): Harness {
  const h = new Harness();
  const tokens = new Map<string, string>();
  USERS.forEach((u, i) => tokens.set(u, h.signIn(u, ADDRS[i])));
  GROUPS.forEach((group, i) => h.ok("create_group", { group }, tokens.get(USERS[i]!)));
  for (const c of commands) {
    const env = c.wrong ? { loginHash: WRONG_HASH } : {};
    let as = c.as;
    let args = c.args;
    if (as === "owner") {
      const g = h.state.groups.get(args.group as string);
      as = g?.owner ?? "u1";
      args = { ...args, user: g?.pending[0] ?? "u1" };
    }
    const r = h.write(c.cmd, args, tokens.get(as), env);
    if (c.cmd === "login" && r.ok) tokens.set(args.user as string, r.data.token as string);
  }
  return h;
}

Deno.test("replaying the entries of any command sequence on a fresh state gives the same state", () => {
  fc.assert(
    fc.property(commandLists, (commands) => {
      const a = run(commands);
      const b = new TrackerState();
      const results = a.entries.map((e) => b.apply(structuredClone(e)));
      assert.deepEqual(results, a.results);
      assert.deepEqual(b.toSnapshot(), a.state.toSnapshot());
    }),
    { numRuns: 300 },
  );
});

Deno.test("a snapshot taken anywhere in the log plus the entries after it gives the same state", () => {
  fc.assert(
    fc.property(commandLists, fc.nat(), (commands, cut) => {
      const a = run(commands);
      const at = cut % (a.entries.length + 1);
      const prefix = new TrackerState();
      for (const e of a.entries.slice(0, at)) prefix.apply(e);
      const snap = JSON.parse(JSON.stringify(prefix.toSnapshot())) as StateSnapshot;
      const b = TrackerState.fromSnapshot(snap);
      assert.deepEqual(b.toSnapshot(), prefix.toSnapshot());
      for (const e of a.entries.slice(at)) b.apply(e);
      assert.deepEqual(b.toSnapshot(), a.state.toSnapshot());
    }),
    { numRuns: 300 },
  );
});

Deno.test("conflict entries are kept in the state and its snapshot, the latest CONFLICT_LIMIT", () => {
  const s = new TrackerState();
  for (let i = 1; i <= CONFLICT_LIMIT + 5; i++) {
    const r = s.apply({
      index: i,
      epoch: 2,
      reqId: `r${i}`,
      op: { kind: "conflict", from: 1, summary: `create_user u${i}`, reason: "taken", at: i },
    });
    assert.deepEqual(r, { ok: false, error: "taken" });
  }
  assert.equal(s.conflicts.length, CONFLICT_LIMIT);
  assert.equal(s.conflicts[0]!.summary, "create_user u6");
  assert.deepEqual(s.dedup("r3"), { ok: false, error: "taken" });
  const copy = TrackerState.fromSnapshot(JSON.parse(JSON.stringify(s.toSnapshot())));
  assert.deepEqual(copy.conflicts, s.conflicts);
  assert.deepEqual(copy.toSnapshot(), s.toSnapshot());
});

Deno.test("a snapshot written before conflicts existed loads with none", () => {
  const snap = richState().state.toSnapshot();
  const { conflicts: _, ...old } = snap;
  const s = TrackerState.fromSnapshot(old as StateSnapshot);
  assert.deepEqual(s.conflicts, []);
  assert.deepEqual(s.toSnapshot(), snap);
});
