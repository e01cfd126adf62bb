/**
 * Property-based fuzzing of the tracker: hostile commands against the pure
 * core (propose, query, apply), and hostile frames against a real in-process
 * tracker over a real socket.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { propose, query, READ_COMMANDS, type Request, WRITE_COMMANDS } from "./commands.ts";
import type { LogEntry, Result } from "./ops.ts";
import { pieceCount, TrackerState } from "./state.ts";
import { CREDENTIALS, fileArgs, T0, WRONG_HASH } from "./_test_harness.ts";
import { Client, Cluster, IDENTITY, waitFor } from "../replication/_test_cluster.ts";
import { encodeJson, type Frame, FrameDecoder, KIND_DATA, KIND_JSON } from "../../shared/frame.ts";
import { MAX_CONTROL_FRAME } from "../../shared/constants.ts";

/** An error a client sees must be one short line. */
const MAX_ERROR_LENGTH = 300;
/** How long the socket fuzz waits for a tracker answer or close. */
const SOCKET_WAIT_MS = 5000;

const REAL_COMMANDS = [...WRITE_COMMANDS, ...READ_COMMANDS];
const USERS = ["alice", "bob", "carol"];
const GROUPS = ["g1", "g2"];
const NAMES = ["f1", "f2"];
const ADDRS = ["10.0.0.1:7000", "10.0.0.2:7000", "[::1]:7000"];

// Junk never longer than a valid 64-char id unless it is far too long for any name (> 255 bytes),
// so every error may echo valid ids and names and still stay under MAX_ERROR_LENGTH.
const longString = fc.constantFrom("x".repeat(300), "é".repeat(200), "y".repeat(100_000));
const shortString = fc.string({ unit: "binary", maxLength: 24 });
const oddString = fc.constantFrom(
  "",
  " ",
  "a\nb",
  "a\r\nb",
  "\u0000",
  "..",
  ".",
  "a/b",
  "__proto__",
  "constructor",
  "toString",
  "\u2028",
  "\ud800",
);

function nested(depth: number): unknown {
  let v: unknown = "deep";
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
}

const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(undefined, null, true, false, 0, -0, -1, 1.5, 2 ** 53 + 2, 1e308, -1e308),
  fc.constantFrom(NaN, Infinity, -Infinity, Number.MIN_VALUE, 2 ** 40 + 1, 2 ** 31, 2 ** 32),
  fc.integer(),
  fc.double(),
  shortString,
  oddString,
  longString,
  fc.constantFrom(nested(5), nested(500), [], {}, [1, 2, 3], { user: "alice" }),
  fc.jsonValue({ maxDepth: 3 }),
);

/** A value for `key`: usually plausible, sometimes junk. */
function argValue(key: string): fc.Arbitrary<unknown> {
  const plausible: Record<string, fc.Arbitrary<unknown>> = {
    user: fc.constantFrom(...USERS),
    password: fc.constantFrom("pw", ""),
    addr: fc.constantFrom(...ADDRS),
    group: fc.constantFrom(...GROUPS),
    name: fc.constantFrom(...NAMES),
    size: fc.constantFrom(0, 100, 16_384, 40_000),
    pieceSize: fc.constantFrom(16_384, 16_385, 32_768),
    pieces: fc.oneof(
      fc.array(fc.integer({ min: -2, max: 4 }), { maxLength: 5 }),
      fc.constantFrom("", "0".repeat(40), "0".repeat(80)),
    ),
    sha1: fc.constantFrom("0".repeat(40), "a".repeat(40), "A".repeat(40)),
  };
  return fc.oneof(
    { weight: 8, arbitrary: plausible[key] ?? junk },
    { weight: 1, arbitrary: junk },
  );
}

/** The arguments each command reads. */
const ARG_KEYS: Record<string, string[]> = {
  create_user: ["user", "password"],
  login: ["user", "password", "addr"],
  create_group: ["group"],
  join_group: ["group"],
  leave_group: ["group"],
  list_requests: ["group"],
  list_files: ["group"],
  accept_request: ["group", "user"],
  reject_request: ["group", "user"],
  stop_share: ["group", "name"],
  lookup_file: ["group", "name"],
  report_pieces: ["group", "name", "pieces"],
  share_file: ["group", "name", "size", "pieceSize", "pieces", "sha1"],
};

const validShare = fc.record({
  group: fc.constantFrom(...GROUPS),
  name: fc.constantFrom(...NAMES),
  pieces: fc.integer({ min: 0, max: 4 }),
  variant: fc.integer({ min: 0, max: 1 }),
}).map(({ group, name, pieces, variant }) => fileArgs(group, name, { pieces, variant }));

/** Arguments for `cmd`: mostly its own keys with plausible values, sometimes anything. */
function argsFor(cmd: string): fc.Arbitrary<Record<string, unknown>> {
  const keys = Object.hasOwn(ARG_KEYS, cmd) ? ARG_KEYS[cmd]! : ["user", "group", "name"];
  const own = fc.record(
    Object.fromEntries(keys.map((k) => [k, fc.option(argValue(k), { freq: 12, nil: undefined })])),
  );
  return fc.oneof(
    { weight: 8, arbitrary: own },
    { weight: cmd === "share_file" ? 8 : 0, arbitrary: validShare },
    { weight: 1, arbitrary: fc.dictionary(shortString, junk, { maxKeys: 4 }) },
    { weight: 1, arbitrary: fc.array(junk, { maxLength: 3 }) as fc.Arbitrary<never> },
  );
}

const anyArgs = fc.constantFrom(...Object.keys(ARG_KEYS)).chain(argsFor);

/** A token: one handed out earlier in the run (by index), none, or a made-up one. */
const tokenChoice = fc.oneof(
  { weight: 5, arbitrary: fc.nat().map((i) => ({ issued: i })) },
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.oneof(shortString, oddString, longString).map((t) => ({ raw: t })) },
);

const step = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...REAL_COMMANDS) },
  { weight: 1, arbitrary: fc.oneof(shortString, oddString, longString) },
).chain((cmd) =>
  fc.record({
    cmd: fc.constant(cmd),
    args: argsFor(cmd),
    token: tokenChoice,
    rightPassword: fc.nat(3).map((x) => x > 0),
  })
);

type Step = typeof step extends fc.Arbitrary<infer T> ? T : never;

/** A well-formed start (three users online, a group with two members and a shared file). */
function prelude(): Step[] {
  const s = (cmd: string, args: Record<string, unknown>, issued?: number): Step => ({
    cmd,
    args,
    token: issued === undefined ? undefined : { issued },
    rightPassword: true,
  });
  return [
    ...USERS.map((user) => s("create_user", { user, password: "pw" })),
    ...USERS.map((user, i) => s("login", { user, password: "pw", addr: ADDRS[i] })),
    s("create_group", { group: "g1" }, 0),
    s("join_group", { group: "g1" }, 1),
    s("join_group", { group: "g1" }, 2),
    s("accept_request", { group: "g1", user: "bob" }, 0),
    s("share_file", fileArgs("g1", "f1"), 0),
    s("create_group", { group: "g2" }, 2),
  ];
}

/** Random steps, half the time after the prelude. */
const steps = fc.tuple(
  fc.boolean(),
  fc.array(step, { minLength: 1, maxLength: 60, size: "large" }),
).map(([start, list]) => start ? [...prelude(), ...list] : list);

/** Runs `steps` against a fresh state; returns the state, the log and every failure seen. */
function run(steps: Step[]) {
  const state = new TrackerState();
  const log: LogEntry[] = [];
  const failures: { cmd: string; error: string }[] = [];
  const tokens: string[] = [];
  const note = (cmd: string, r: Result) => {
    if (!r.ok) failures.push({ cmd, error: r.error });
  };
  for (const [i, s] of steps.entries()) {
    const t = s.token;
    const token = t === undefined
      ? undefined
      : "raw" in t
      ? t.raw
      : tokens.length > 0
      ? tokens[t.issued % tokens.length]
      : undefined;
    const req: Request = { cmd: s.cmd, args: s.args, token };
    const before = JSON.stringify(state.toSnapshot());
    if (!READ_COMMANDS.has(s.cmd)) {
      const p = propose(state, req, {
        now: T0 + i,
        token: `token-${i}`,
        credentials: CREDENTIALS,
        loginHash: s.rightPassword ? CREDENTIALS.hash : WRONG_HASH,
      });
      if ("result" in p) {
        note(s.cmd, p.result);
        assert.equal(
          JSON.stringify(state.toSnapshot()),
          before,
          "a refused proposal changed state",
        );
      } else {
        const entry: LogEntry = { index: state.index + 1, epoch: 1, reqId: `r${i}`, op: p.op };
        log.push(entry);
        const r = state.apply(entry);
        note(s.cmd, r);
        if (r.ok && p.op.kind === "login") tokens.push(p.op.token);
      }
    }
    if (!WRITE_COMMANDS.has(s.cmd)) {
      note(s.cmd, query(state, req));
      assert.equal(JSON.stringify(state.toSnapshot()), before, "a query changed state");
    }
  }
  return { state, log, failures };
}

function popcount(bytes: Uint8Array): number {
  let n = 0;
  for (const b of bytes) for (let x = b; x; x &= x - 1) n++;
  return n;
}

function assertConsistent(state: TrackerState): void {
  const unique = (xs: string[]) => new Set(xs).size === xs.length;
  for (const [id, g] of state.groups) {
    assert.equal(g.id, id);
    assert.ok(g.members.length > 0, `group ${id} has no members`);
    assert.ok(g.members.includes(g.owner), `owner of ${id} is not a member`);
    assert.ok(unique(g.members), `members of ${id} repeat`);
    assert.ok(unique(g.pending), `pending requests of ${id} repeat`);
    for (const u of [...g.members, ...g.pending]) assert.ok(state.users.has(u), `no user ${u}`);
    assert.ok(!g.pending.some((u) => g.members.includes(u)), `a member of ${id} is pending`);
  }
  for (const [token, s] of state.sessions) {
    assert.equal(s.token, token);
    assert.ok(state.users.has(s.user), `session of unknown user ${s.user}`);
    assert.equal(state.sessionByUser.get(s.user), token);
  }
  assert.equal(state.sessionByUser.size, state.sessions.size);
  const addrs = [...state.sessions.values()].map((s) => s.addr);
  assert.ok(unique(addrs), "two sessions share an address");
  for (const f of state.files.values()) {
    const g = state.groups.get(f.group);
    assert.ok(g, `file ${f.name} in missing group ${f.group}`);
    assert.ok(f.sources.size > 0, `file ${f.name} has no source`);
    const n = pieceCount(f.size, f.pieceSize);
    assert.equal(f.pieces.length, n * 40);
    for (const [user, src] of f.sources) {
      assert.equal(src.user, user);
      assert.ok(state.users.has(user), `source ${user} does not exist`);
      assert.ok(g.members.includes(user), `source ${user} is not a member of ${f.group}`);
      assert.ok(state.sessionByUser.has(user), `source ${user} is offline`);
      assert.equal(src.have.length, Math.ceil(n / 8));
      assert.equal(src.count, popcount(src.have));
      assert.ok(src.count <= n);
    }
  }
}

function oneShortLine(error: unknown): string | null {
  if (typeof error !== "string" || error.length === 0) return "not a non-empty string";
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(error)) return "not one line";
  if (error.length >= MAX_ERROR_LENGTH) return `${error.length} characters long`;
  return null;
}

Deno.test("tracker commands: random requests never throw and keep the state consistent", () => {
  fc.assert(
    fc.property(steps, (list) => {
      const { state, log } = run(list);
      assertConsistent(state);
      // Replicas replaying the log, or loading a snapshot, hold the same state.
      const replica = new TrackerState();
      for (const e of log) replica.apply(e);
      const snap = state.toSnapshot();
      assert.deepEqual(replica.toSnapshot(), snap);
      assert.deepEqual(TrackerState.fromSnapshot(structuredClone(snap)).toSnapshot(), snap);
    }),
    { numRuns: 500 },
  );
});

Deno.test("tracker commands: every error is one line shorter than 300 characters", () => {
  fc.assert(
    fc.property(steps, (list) => {
      for (const { cmd, error } of run(list).failures) {
        const why = oneShortLine(error);
        assert.equal(why, null, `${cmd.slice(0, 40)}: error ${why}: ${error.slice(0, 120)}`);
      }
    }),
    { numRuns: 500 },
  );
});

// ---- Hostile frames over a real socket ----

/** One frame (or raw bytes) a hostile client sends. */
const hostileFrame: fc.Arbitrary<Uint8Array> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constantFrom("req", "req", "req", "hello", "get", "res", "error", "hb"),
      id: fc.oneof(
        fc.constantFrom("fz-1", "fz-2", "x".repeat(129), ""),
        fc.string({ maxLength: 10 }),
        junk,
      ),
      cmd: fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...REAL_COMMANDS) },
        { weight: 1, arbitrary: fc.oneof(junk, oddString, longString) },
      ),
      args: fc.oneof(anyArgs, junk),
      token: fc.oneof(fc.constant(undefined), shortString, junk),
    }, { requiredKeys: ["t"] }).map((m) => encodeJson(m)),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.oneof(oddString, longString, shortString), anyArgs).map(([cmd, a]) =>
      encodeJson({ t: "req", id: "fz-odd", cmd, args: a })
    ),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      n: junk,
      nonce: junk,
      ts: fc.oneof(junk, fc.constant(Date.now())),
      mac: fc.oneof(junk, fc.constant("0".repeat(64))),
    }).map((m) => encodeJson({ t: "link_hello", ...m })),
  },
  {
    weight: 2,
    arbitrary: fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 40 })).map(
      ([kind, body]) => withLength(Uint8Array.of(kind, ...body)),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      withLength(Uint8Array.of(KIND_JSON, ...new TextEncoder().encode("[1]"))),
      withLength(Uint8Array.of(KIND_JSON, ...new TextEncoder().encode('{"t":1}'))),
      withLength(Uint8Array.of(KIND_JSON, 0xff, 0xfe)),
      withLength(Uint8Array.of(KIND_DATA, 0, 0, 0, 7, 1, 2, 3)),
      withLength(Uint8Array.of(KIND_DATA, 0)),
      Uint8Array.of(0, 0, 0, 0),
      Uint8Array.of(0xff, 0xff, 0xff, 0xff, KIND_JSON),
      encodeJson({ t: "req", id: "big", cmd: "whoami", args: { pad: "z".repeat(200_000) } }),
    ),
  },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }) },
);

function withLength(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

/** What the tracker must do with a byte stream, worked out with the same decoder. */
function expectation(bytes: Uint8Array) {
  let frames: Frame[] = [];
  let malformed = false;
  try {
    frames = new FrameDecoder({ maxFrame: MAX_CONTROL_FRAME }).push(bytes);
  } catch {
    // The decoder throws before returning any frame: find the complete ones one by one.
    const d = new FrameDecoder({ maxFrame: MAX_CONTROL_FRAME });
    malformed = true;
    for (let i = 0; i < bytes.length; i++) {
      try {
        frames.push(...d.push(bytes.subarray(i, i + 1)));
      } catch {
        break;
      }
    }
  }
  const first = frames[0];
  const linkHello = first?.kind === "json" && first.msg.t === "link_hello";
  let res = 0;
  let errors = 0;
  for (const f of frames) {
    if (f.kind === "data") return { linkHello, res, errors, closes: true };
    if (f.msg.t === "req") res++;
    else errors++;
  }
  return { linkHello, res, errors, closes: malformed };
}

/** Sends `chunks` on a fresh connection and reads every message until the tracker closes. */
async function hostileSession(
  to: { port: number; caPem: string },
  chunks: Uint8Array[],
  bytes: Uint8Array,
) {
  const want = expectation(bytes);
  const conn = await Deno.connectTls({ hostname: "127.0.0.1", port: to.port, caCerts: [to.caPem] });
  const got: Record<string, unknown>[] = [];
  let closed = false;
  const reading = (async () => {
    const d = new FrameDecoder({ maxFrame: 64 * 1024 * 1024 });
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        for (const f of d.push(buf.subarray(0, n))) {
          got.push(f.kind === "json" ? f.msg : { t: "<data>" });
        }
      }
    } catch { /* reset by the tracker: also a close */ }
    closed = true;
  })();
  try {
    // A TLS write may take only part of a chunk.
    for (const c of chunks) {
      for (let off = 0; off < c.length;) off += await conn.write(c.subarray(off));
    }
  } catch { /* the tracker may hang up before everything is written */ }
  const count = (t: string) => got.filter((m) => m.t === t).length;
  if (!want.linkHello && !want.closes) {
    // Wait for every answer before half-closing, so in-flight answers are not cut off.
    await waitFor(
      `${want.res} answers and ${want.errors} errors`,
      () => closed || (count("res") >= want.res && count("error") >= want.errors),
      SOCKET_WAIT_MS,
    );
  }
  try {
    conn.closeWrite();
  } catch { /* already closed */ }
  await waitFor("the tracker to close the connection", () => closed, SOCKET_WAIT_MS);
  conn.close();
  await reading;
  if (want.linkHello) {
    // A malformed frame in the same read as the hello fails the read before the hello is seen.
    const allowed = want.closes ? [[], [{ t: "error" }]] : [[]];
    const seen = got.map((m) => ({ t: m.t }));
    assert.ok(
      allowed.some((a) => JSON.stringify(a) === JSON.stringify(seen)),
      `a bad link_hello must be dropped without a byte, got ${JSON.stringify(got)}`,
    );
  } else if (want.closes) {
    // Frames decoded in the same read as a malformed one may be dropped with it.
    assert.ok(count("error") >= 1, `no error before the close: ${JSON.stringify(got)}`);
    assert.ok(count("res") <= want.res);
    assert.ok(count("error") <= want.errors + 1);
  } else {
    assert.equal(count("res"), want.res, JSON.stringify(got).slice(0, 500));
    assert.equal(count("error"), want.errors, JSON.stringify(got).slice(0, 500));
  }
  assert.equal(got.length, count("res") + count("error"), "unexpected message types");
  return got;
}

/** Cuts `bytes` at the given fractions, so frames straddle writes. */
function cut(bytes: Uint8Array, at: number[]): Uint8Array[] {
  const points = [...new Set(at.map((x) => Math.floor(x * bytes.length)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    if (p > from) out.push(bytes.subarray(from, p));
    from = Math.max(from, p);
  }
  return out;
}

Deno.test("tracker server: hostile frames get answers or an error and a close, others unaffected", async () => {
  const c = await Cluster.create();
  const good = await (async () => {
    const t1 = await c.start(1);
    await waitFor("tracker 1 alone to be primary", () => t1.node.role === "primary");
    return await Client.connect(c.endpoints[0], c.caPem);
  })().catch(async (err) => {
    await c.close();
    throw err;
  });
  const badErrors: string[] = [];
  try {
    await good.ok("create_user", { user: "good", password: "good-secret" });
    const { token } = await good.ok("login", {
      user: "good",
      password: "good-secret",
      addr: "10.9.9.9:7000",
      pubkey: IDENTITY.spki,
    });
    await good.ok("create_group", { group: "goodgroup" }, token as string);
    const port = c.endpoints[0].port;
    await fc.assert(
      fc.asyncProperty(
        fc.array(hostileFrame, { minLength: 1, maxLength: 8 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 4 }),
        async (frames, at) => {
          const bytes = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
          let off = 0;
          for (const f of frames) {
            bytes.set(f, off);
            off += f.length;
          }
          const [got, me] = await Promise.all([
            hostileSession({ port, caPem: c.caPem }, cut(bytes, at), bytes),
            good.ok("whoami", {}, token as string),
          ]);
          assert.equal(me.user, "good");
          for (const m of got) {
            if (m.error !== undefined && oneShortLine(m.error) !== null) {
              badErrors.push(String(m.error).slice(0, 120));
            }
          }
        },
      ),
      { numRuns: 200, endOnFailure: true },
    );
    // Alive afterwards: the old client and a new one are both answered.
    const groups = await good.ok("list_groups", {}, token as string);
    assert.ok((groups.groups as { group: string }[]).some((g) => g.group === "goodgroup"));
    const fresh = await Client.connect(c.endpoints[0], c.caPem);
    try {
      await fresh.ok("create_user", { user: "late", password: "pw" });
    } finally {
      await fresh.close();
    }
    assert.equal(c.tracker(1).node.role, "primary");
    await waitFor("hostile connections to be gone", () => c.tracker(1).server.connections === 1);
    assert.deepEqual(badErrors.slice(0, 3), [], "errors sent to clients must be one short line");
  } finally {
    await good.close();
    await c.close();
  }
});
