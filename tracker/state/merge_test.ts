import assert from "node:assert/strict";
import fc from "fast-check";
import {
  divergence,
  entryId,
  epochAt,
  type EpochRuns,
  type MergeCounts,
  Merger,
  tailToSend,
} from "./merge.ts";
import type { ConflictOp, LogEntry, Op, Result } from "./ops.ts";
import { TrackerState } from "./state.ts";

const CRED = { salt: "00", hash: "11", iterations: 1 };

/** One tracker's log and state, appending in its own epoch. */
class Side {
  state = new TrackerState();
  readonly entries: LogEntry[] = [];
  epoch: number;

  constructor(epoch: number) {
    this.epoch = epoch;
  }

  /** A copy of this side (same entries, same state) that goes on in `epoch`. */
  fork(epoch: number): Side {
    const s = new Side(epoch);
    for (const e of this.entries) s.replay(e);
    return s;
  }

  replay(e: LogEntry): Result {
    const r = this.state.apply(e);
    this.entries.push(e);
    return r;
  }

  append(op: Op, reqId?: string): Result {
    const e: LogEntry = { index: this.state.index + 1, epoch: this.epoch, op };
    if (reqId !== undefined) e.reqId = reqId;
    return this.replay(e);
  }

  /** Entries after index `d`. */
  after(d: number): LogEntry[] {
    return this.entries.filter((e) => e.index > d);
  }

  /** Merges `tail` from tracker `from` into this side; returns counts and conflicts. */
  merge(tail: LogEntry[], from = 1): { counts: MergeCounts; conflicts: ConflictOp[] } {
    const conflicts: ConflictOp[] = [];
    const m = new Merger({
      from,
      now: () => 42,
      append: (op, reqId) => this.append(op, reqId),
      conflict: (c) => conflicts.push(c),
    });
    m.feed(this.state, tail);
    return { counts: m.counts, conflicts };
  }
}

const user = (u: string, at = 1): Op => ({ kind: "create_user", user: u, ...CRED, at });
const login = (u: string, token: string, at: number, addr = `10.0.0.1:${at % 60000}`): Op => ({
  kind: "login",
  user: u,
  token,
  addr,
  at,
});
const group = (u: string, g: string, at = 1): Op => ({
  kind: "create_group",
  user: u,
  group: g,
  at,
});

/** A shared prefix: alice owns g, bob is logged in and asked to join g. */
function prefix(): Side {
  const s = new Side(1);
  s.append({ kind: "epoch", epoch: 1, tracker: 1 });
  s.append(user("alice"), "p1");
  s.append(user("bob"), "p2");
  s.append(login("alice", "ta", 10), "p3");
  s.append(login("bob", "tb", 11), "p4");
  s.append(group("alice", "g"), "p5");
  s.append({ kind: "join_group", user: "bob", group: "g" }, "p6");
  return s;
}

Deno.test("epochAt() reads the epoch of an index from runs, undefined outside them", () => {
  const runs: EpochRuns = [[5, 1], [9, 2], [12, 5]];
  const table: [number, number | undefined][] = [
    [4, undefined],
    [5, 1],
    [8, 1],
    [9, 2],
    [11, 2],
    [12, 5],
    [20, 5],
    [21, undefined],
  ];
  for (const [i, want] of table) assert.equal(epochAt(runs, 20, i), want, `index ${i}`);
  assert.equal(epochAt([], 0, 1), undefined);
});

Deno.test("divergence() finds the last entry two logs share", () => {
  // mine and theirs as epoch lists from index 1; null = compacted.
  const table: { mine: (number | null)[]; theirs: (number | null)[]; want: number }[] = [
    { mine: [], theirs: [], want: 0 },
    { mine: [1, 1, 1], theirs: [1, 1, 1], want: 3 },
    { mine: [1, 1, 2, 2], theirs: [1, 1, 1, 1, 1], want: 2 },
    { mine: [2, 2], theirs: [1, 1], want: 0 },
    { mine: [1, 1, 1, 1, 1], theirs: [1, 1], want: 2 },
    { mine: [1, 1, 3, 3], theirs: [1, 1, 3, 5, 5], want: 3 },
    // Compacted entries count as shared.
    { mine: [null, null, 1, 2], theirs: [1, 1, 1, 1], want: 3 },
    { mine: [1, 1, 2, 2], theirs: [null, null, null, 1], want: 3 },
  ];
  for (const { mine, theirs, want } of table) {
    const got = divergence(Math.min(mine.length, theirs.length), {
      mine: (i) => mine[i - 1] ?? undefined,
      theirs: (i) => theirs[i - 1] ?? undefined,
    });
    assert.equal(got, want, `${JSON.stringify(mine)} vs ${JSON.stringify(theirs)}`);
  }
});

Deno.test("divergence() agrees with a linear scan for random forked logs", () => {
  fc.assert(fc.property(
    fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 30 }),
    fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 20 }),
    fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 20 }),
    (common, a, b) => {
      // Epochs only rise along a log; the two sides write in different epochs.
      const base = common.reduce<number[]>((xs, d) => [...xs, (xs.at(-1) ?? 1) + d], []);
      const top = base.at(-1) ?? 1;
      const mine = [...base, ...a.map((_, i) => 2 * (top + 1) + i)];
      const theirs = [...base, ...b.map((_, i) => 2 * (top + 1) + i + 1)];
      const got = divergence(Math.min(mine.length, theirs.length), {
        mine: (i) => mine[i - 1],
        theirs: (i) => theirs[i - 1],
      });
      let want = 0;
      while (want < Math.min(mine.length, theirs.length) && mine[want] === theirs[want]) want++;
      assert.equal(got, want);
    },
  ));
});

Deno.test("tailToSend() leaves out internal ops and writes that failed where they were made", () => {
  const s = prefix();
  s.append({ kind: "set_grant_key", privateKey: "k", publicKey: "p" });
  s.append(user("carol"), "ok-1");
  s.append(user("carol"), "dup-1"); // failed: carol exists
  s.append(group("carol", "h"));
  const conflict: ConflictOp = {
    kind: "conflict",
    from: 2,
    summary: "create_user x",
    reason: "user x already exists",
    at: 1,
  };
  s.append(conflict, "c-1");
  const sent = tailToSend(s.state, s.after(7));
  assert.deepEqual(sent.map((e) => entryId(e)), ["ok-1", "merge:1:11", "c-1"]);
});

/** Each row: writes the loser made alone, writes the winner made alone, what the merge refuses. */
const CHECK_TABLE: {
  name: string;
  winner: [Op, string][];
  loser: [Op, string][];
  refused: Record<string, string>;
}[] = [
  {
    name: "the same user created on both sides",
    winner: [[user("carol", 5), "w1"]],
    loser: [[user("carol", 6), "l1"], [user("dave"), "l2"]],
    refused: { l1: "user carol already exists" },
  },
  {
    name: "the login and writes of a user the winner gave the id to",
    winner: [[user("carol", 5), "w1"]],
    loser: [
      [user("carol", 6), "l1"],
      [login("carol", "tc", 20), "l2"],
      [group("carol", "cg"), "l3"],
      [{ kind: "logout", token: "tc" }, "l4"],
    ],
    refused: {
      l1: "user carol already exists",
      l2: "user carol is another account on this side",
      l3: "user carol is another account on this side",
      l4: "not logged in",
    },
  },
  {
    name: "the same group created on both sides, and joins into it",
    winner: [[group("alice", "h"), "w1"]],
    loser: [
      [group("bob", "h"), "l1"],
      [{ kind: "join_group", user: "alice", group: "h" }, "l2"],
      [{ kind: "accept_request", user: "bob", group: "h", member: "alice" }, "l3"],
    ],
    refused: {
      l1: "group h already exists",
      l2: "group h is another group on this side",
      l3: "group h is another group on this side",
    },
  },
  {
    name: "a join to a group deleted on the other side",
    winner: [
      [{ kind: "reject_request", user: "alice", group: "g", member: "bob" }, "w1"],
      [{ kind: "leave_group", user: "alice", group: "g" }, "w2"],
    ],
    loser: [[user("carol"), "l0"], [{ kind: "join_group", user: "carol", group: "g" }, "l1"]],
    refused: { l1: "no group g" },
  },
  {
    name: "accepting a request the other side rejected",
    winner: [[{ kind: "reject_request", user: "alice", group: "g", member: "bob" }, "w1"]],
    loser: [
      [{ kind: "accept_request", user: "alice", group: "g", member: "bob" }, "l1"],
      [{
        kind: "share_file",
        user: "bob",
        group: "g",
        name: "f",
        size: 1,
        pieceSize: 16384,
        pieces: "a".repeat(40),
        sha1: "b".repeat(40),
        at: 3,
      }, "l2"],
      [{ kind: "report_pieces", user: "bob", group: "g", name: "f", pieces: [0] }, "l3"],
    ],
    refused: {
      l1: "no join request from bob in group g",
      l2: "not a member of group g",
      l3: "not a member of group g",
    },
  },
  {
    name: "writes into a group deleted on the other side",
    winner: [
      [{ kind: "reject_request", user: "alice", group: "g", member: "bob" }, "w1"],
      [{ kind: "leave_group", user: "alice", group: "g" }, "w2"],
    ],
    loser: [
      [group("bob", "g2"), "l1"],
      [{ kind: "accept_request", user: "alice", group: "g", member: "bob" }, "l2"],
      [{ kind: "leave_group", user: "alice", group: "g" }, "l3"],
    ],
    refused: {
      l2: "no group g",
      l3: "no group g",
    },
  },
  {
    name: "a login that would end a later session of the same user",
    winner: [[login("bob", "tb2", 500, "10.0.0.9:1"), "w1"]],
    loser: [[login("bob", "tb3", 400, "10.0.0.8:1"), "l1"], [user("erin"), "l2"]],
    refused: { l1: "bob logged in again later" },
  },
  {
    name: "a file description the proposal would have refused",
    winner: [],
    loser: [[{
      kind: "share_file",
      user: "alice",
      group: "g",
      name: "f",
      size: -5,
      pieceSize: 16384,
      pieces: "",
      sha1: "b".repeat(40),
      at: 3,
    }, "l1"]],
    refused: { l1: "bad file size" },
  },
  {
    name: "writes that still hold are all applied",
    winner: [[user("zed"), "w1"]],
    loser: [
      [user("carol"), "l1"],
      [login("carol", "tc", 30), "l2"],
      [group("carol", "h"), "l3"],
      [{ kind: "join_group", user: "alice", group: "h" }, "l4"],
      [{ kind: "accept_request", user: "carol", group: "h", member: "alice" }, "l5"],
      [{ kind: "accept_request", user: "alice", group: "g", member: "bob" }, "l6"],
      [{ kind: "set_serving", token: "tc", serving: false }, "l7"],
    ],
    refused: {},
  },
];

Deno.test("a merge re-checks each kind of write against the merged state", () => {
  for (const row of CHECK_TABLE) {
    const base = prefix();
    const winner = base.fork(2);
    const loser = base.fork(3);
    for (const [op, id] of row.winner) {
      assert.equal(winner.append(op, id).ok, true, `${row.name}: winner ${id}`);
    }
    for (const [op, id] of row.loser) {
      assert.equal(loser.append(op, id).ok, true, `${row.name}: loser ${id}`);
    }
    const tail = tailToSend(loser.state, loser.after(base.state.index));
    const { counts, conflicts } = winner.merge(tail, 1);
    const refused = Object.fromEntries(
      conflicts.map((c) => [c.reqId, c.reason]),
    );
    assert.equal(tail.length, row.loser.length, row.name);
    assert.deepEqual(refused, row.refused, row.name);
    assert.equal(counts.merged + counts.conflicts, tail.length, row.name);
    for (const e of tail) {
      const r = winner.state.dedup(e.reqId!);
      assert.ok(r, `${row.name}: ${e.reqId} merged or refused`);
      assert.equal(r.ok, !(e.reqId! in row.refused), `${row.name}: ${e.reqId}`);
    }
  }
});

Deno.test("conflicts carry no secret and are recorded identically on a replica", () => {
  const base = prefix();
  const winner = base.fork(2);
  const loser = base.fork(3);
  winner.append(user("carol", 5), "w1");
  loser.append({
    kind: "create_user",
    user: "carol",
    salt: "5ec2e7",
    hash: "ha5h",
    iterations: 9,
    at: 6,
  }, "l1");
  loser.append(login("carol", "t0ken-secret", 20), "l2");
  const replica = winner.fork(2);
  const { conflicts } = winner.merge(tailToSend(loser.state, loser.after(base.state.index)));
  assert.equal(conflicts.length, 2);
  for (const c of conflicts) {
    const text = JSON.stringify(c);
    for (const secret of ["5ec2e7", "ha5h", "t0ken-secret"]) {
      assert.ok(!text.includes(secret), `${text} holds ${secret}`);
    }
  }
  assert.deepEqual(conflicts.map((c) => [c.summary, c.from, c.reason]), [
    ["create_user carol", 1, "user carol already exists"],
    ["login carol", 1, "user carol is another account on this side"],
  ]);
  // The replica replays what the winner appended (as the secondary does) and ends identical.
  for (const e of winner.after(replica.state.index)) replica.replay(e);
  assert.deepEqual(replica.state.toSnapshot(), winner.state.toSnapshot());
  assert.deepEqual(winner.state.conflicts.map((c) => c.summary), [
    "create_user carol",
    "login carol",
  ]);
  // A client that re-sends the refused write gets the refusal.
  assert.deepEqual(winner.state.dedup("l1"), { ok: false, error: "user carol already exists" });
});

Deno.test("merging the same tail again, whole or from the middle, changes nothing", () => {
  const base = prefix();
  const winner = base.fork(2);
  const loser = base.fork(3);
  winner.append(user("carol", 5), "w1");
  loser.append(user("carol", 6), "l1");
  loser.append(login("carol", "tc", 20), "l2");
  loser.append(user("dave"), "l3");
  loser.append({ kind: "logout", token: "tb" }); // no request id: identified by epoch and index
  loser.append(login("dave", "td", 30), "l4");
  const tail = tailToSend(loser.state, loser.after(base.state.index));
  assert.equal(tail.length, 5);
  // A first merge stopped after two entries (the loser crashed), then the whole tail again.
  const first = winner.merge(tail.slice(0, 2));
  assert.deepEqual(first.counts, { merged: 0, conflicts: 2, skipped: 0 });
  const again = winner.merge(tail);
  assert.deepEqual(again.counts, { merged: 3, conflicts: 0, skipped: 2 });
  const after = winner.state.toSnapshot();
  const third = winner.merge(tail);
  assert.deepEqual(third.counts, { merged: 0, conflicts: 0, skipped: 5 });
  assert.deepEqual(winner.state.toSnapshot(), after);
  // The re-merge still knew carol was another account (her login stays refused).
  assert.equal(winner.state.sessions.has("tc"), false);
  assert.equal(winner.state.sessions.has("td"), true);
  assert.equal(winner.state.sessions.has("tb"), false, "bob's logout was merged");
});

Deno.test("entries the winner already has by request id are skipped, with their result kept", () => {
  const base = prefix();
  const winner = base.fork(2);
  const loser = base.fork(3);
  // The client re-sent its write to the winner (with a new salt, the same request id).
  loser.append(user("carol", 6), "r1");
  winner.append(user("carol", 7), "r1");
  loser.append(login("carol", "tc", 20), "r2");
  const before = winner.state.users.get("carol");
  const { counts, conflicts } = winner.merge(
    tailToSend(loser.state, loser.after(base.state.index)),
  );
  assert.deepEqual(counts, { merged: 1, conflicts: 0, skipped: 1 });
  assert.deepEqual(conflicts, []);
  assert.deepEqual(winner.state.users.get("carol"), before);
  assert.equal(winner.state.sessions.get("tc")?.user, "carol", "the same account logs in");
});

Deno.test("a conflict the loser recorded earlier is carried over once", () => {
  const base = prefix();
  const winner = base.fork(2);
  const loser = base.fork(3);
  loser.append({ kind: "conflict", from: 3, summary: "create_user y", reason: "r", at: 1 }, "c1");
  const tail = tailToSend(loser.state, loser.after(base.state.index));
  assert.deepEqual(winner.merge(tail).counts, { merged: 0, conflicts: 1, skipped: 0 });
  assert.deepEqual(winner.merge(tail).counts, { merged: 0, conflicts: 0, skipped: 1 });
  assert.deepEqual(winner.state.conflicts.map((c) => c.summary), ["create_user y"]);
});

/** Random writes by the prefix's users and a few new ones, as ops with request ids. */
const arbOp: fc.Arbitrary<Op> = fc.oneof(
  fc.constantFrom("carol", "dave", "alice").map((u) => user(u)),
  fc.tuple(fc.constantFrom("alice", "bob", "carol", "dave"), fc.integer({ min: 1, max: 999 }))
    .map(([u, at]) => login(u, `t-${u}-${at}`, at, `10.0.1.${at % 5}:1`)),
  fc.tuple(fc.constantFrom("alice", "bob", "carol"), fc.constantFrom("g", "h", "k"))
    .map(([u, g]) => group(u, g)),
  fc.tuple(fc.constantFrom("alice", "bob", "carol", "dave"), fc.constantFrom("g", "h", "k"))
    .map(([u, g]): Op => ({ kind: "join_group", user: u, group: g })),
  fc.tuple(fc.constantFrom("alice", "bob", "carol"), fc.constantFrom("g", "h", "k"))
    .map(([u, g]): Op => ({ kind: "leave_group", user: u, group: g })),
  fc.tuple(
    fc.constantFrom("alice", "bob", "carol"),
    fc.constantFrom("g", "h", "k"),
    fc.constantFrom("alice", "bob", "carol", "dave"),
  ).map(([u, g, m]): Op => ({ kind: "accept_request", user: u, group: g, member: m })),
  fc.constantFrom("ta", "tb").map((token): Op => ({ kind: "logout", token })),
);

Deno.test("property: after a random split brain, every loser write is merged or a conflict, and replicas agree", () => {
  fc.assert(
    fc.property(
      fc.array(arbOp, { maxLength: 25 }),
      fc.array(arbOp, { maxLength: 25 }),
      (winnerOps, loserOps) => {
        const base = prefix();
        const winner = base.fork(2);
        const loser = base.fork(3);
        winnerOps.forEach((op, i) => winner.append(op, `w${i}`));
        loserOps.forEach((op, i) => loser.append(op, `l${i}`));
        const replica = winner.fork(2);
        const tail = tailToSend(loser.state, loser.after(base.state.index));
        const ok = loserOps.map((_, i) => loser.state.dedup(`l${i}`)!.ok);
        assert.equal(tail.length, ok.filter(Boolean).length);
        const { counts, conflicts } = winner.merge(tail);
        assert.equal(counts.merged + counts.conflicts, tail.length);
        const refused = new Set(conflicts.map((c) => c.reqId));
        for (const e of tail) {
          const r = winner.state.dedup(e.reqId!)!;
          assert.equal(r.ok, !refused.has(e.reqId), `${e.reqId}: ${JSON.stringify(r)}`);
        }
        for (const e of winner.after(replica.state.index)) replica.replay(e);
        assert.deepEqual(replica.state.toSnapshot(), winner.state.toSnapshot());
        // Merging again is a no-op.
        const snap = winner.state.toSnapshot();
        assert.equal(winner.merge(tail).counts.skipped, tail.length);
        assert.deepEqual(winner.state.toSnapshot(), snap);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("property: check() refuses exactly what apply() would fail, or more", () => {
  fc.assert(
    fc.property(fc.array(arbOp, { maxLength: 30 }), arbOp, (ops, probe) => {
      const s = prefix().fork(2);
      ops.forEach((op) => s.append(op));
      const m = new Merger({ from: 1, now: () => 0, append: (op, id) => s.append(op, id) });
      const before = s.state.index;
      m.feed(s.state, [{ index: 99, epoch: 9, reqId: "probe", op: probe }]);
      // Whatever the merge appended, it never applied a write that failed.
      const appended = s.entries.filter((e) => e.index > before);
      assert.equal(appended.length, 1);
      const r = s.state.dedup("probe")!;
      assert.equal(appended[0]!.op.kind === "conflict", !r.ok);
    }),
    { numRuns: 500 },
  );
});
