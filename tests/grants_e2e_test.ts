/**
 * A real peer's piece server only serves a requester holding a grant signed
 * by the trackers for that very file and not yet expired. Probed with the
 * fake codec client from `fake_peer.ts`; grants come from a real tracker.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { PIECE_SIZE } from "../shared/constants.ts";
import type { Frame, Message } from "../shared/frame.ts";
import { type Grant, importSigningKey, newGrantKeyPair, signGrant } from "../shared/grant.ts";
import { fileMeta, PieceClient, type PieceDial, RawTracker } from "./fake_peer.ts";
import { randomBytes } from "./harness/files.ts";
import { freePort } from "./harness/ports.ts";
import type { PeerShell } from "./harness/shell.ts";
import { GROUP, Swarm } from "./harness/swarm.ts";
import { waitFor } from "./harness/wait.ts";

/** The trackers' grant signing key, read from tracker 1's log (as only a test may). */
function trackerSigningKey(dataDir: string): Promise<CryptoKey> {
  const db = new DatabaseSync(`${dataDir}/tracker.db`);
  try {
    for (const row of db.prepare("SELECT op FROM log ORDER BY idx").all()) {
      const op = JSON.parse(String(row.op)) as { kind: string; privateKey?: string };
      if (op.kind === "set_grant_key") return importSigningKey(op.privateKey!);
    }
  } finally {
    db.close();
  }
  throw new Error("no set_grant_key op in the tracker's log");
}

/**
 * Sends `hello` to `to.addr` (as `to.tls`), waits for the answer, then asks for each of `pieces`; returns
 * every frame until the server closes the connection (at most `timeoutMs`).
 */
async function probe(
  to: PieceDial,
  hello: Message,
  pieces: number[],
  timeoutMs = 3000,
): Promise<{ frames: Frame[]; closed: boolean }> {
  const c = await PieceClient.connect(to);
  try {
    await c.send(hello);
    const first = await c.next(timeoutMs);
    const frames = first.kind === "json" || first.kind === "data" ? [first] : [];
    for (const p of pieces) await c.send({ t: "get", tag: p, piece: p }).catch(() => {});
    const rest = await c.rest(timeoutMs);
    return { frames: [...frames, ...rest.frames], closed: first.kind === "closed" || rest.closed };
  } finally {
    await c.close();
  }
}

/**
 * Sends `hello` and at once, without waiting for an answer, a `get` for each
 * of `pieces`; returns the data frames received before the server hung up.
 * (The server's error may be lost: it closes with our requests unread, and the
 * resulting reset may discard it.)
 */
async function rush(
  to: PieceDial,
  hello: Message,
  pieces: number[],
  timeoutMs = 3000,
): Promise<{ data: Frame[]; closed: boolean }> {
  const c = await PieceClient.connect(to);
  try {
    await c.send(hello);
    for (const p of pieces) await c.send({ t: "get", tag: p, piece: p }).catch(() => {});
    const r = await c.rest(timeoutMs);
    return { data: r.frames.filter((f) => f.kind === "data"), closed: r.closed };
  } finally {
    await c.close();
  }
}

/** Asserts that the server answered with one error, sent no data and hung up. */
async function assertRefused(to: PieceDial, msg: Message, why: string): Promise<void> {
  const r = await probe(to, msg, [0, 1, 2, 3]);
  const data = r.frames.filter((f) => f.kind === "data");
  assert.equal(data.length, 0, `${why}: ${data.length} data frames were sent`);
  assert.equal(r.frames.length, 1, `${why}: ${JSON.stringify(r.frames)}`);
  const f = r.frames[0]!;
  assert.ok(f.kind === "json" && f.msg.t === "error", `${why}: ${JSON.stringify(f)}`);
  assert.ok(r.closed, `${why}: the connection stayed open`);
  const rushed = await rush(to, msg, [0, 1, 2, 3]);
  assert.equal(rushed.data.length, 0, `${why}: data sent to requests sent with the hello`);
  assert.ok(rushed.closed, `${why}: the connection stayed open`);
}

interface Setup {
  alice: PeerShell;
  eve: RawTracker;
  data: Uint8Array;
  meta: Awaited<ReturnType<typeof fileMeta>>;
  other: Awaited<ReturnType<typeof fileMeta>>;
}

/** alice shares pic.bin (4 pieces) and other.bin; eve, a member, talks the raw protocol. */
async function setup(s: Swarm): Promise<Setup> {
  const alice = await s.member("alice");
  const src = await s.mkdir("src");
  const data = randomBytes(3 * PIECE_SIZE + 100);
  await Deno.writeFile(`${src}/pic.bin`, data);
  await Deno.writeFile(`${src}/other.bin`, randomBytes(1000));
  await alice.ok(`upload_file ${src}/pic.bin ${GROUP}`);
  await alice.ok(`upload_file ${src}/other.bin ${GROUP}`);
  const eve = await RawTracker.connect(s.pair.endpoints[0], await s.pair.ca());
  await eve.signUp("eve", "pw-eve", `127.0.0.1:${freePort()}`);
  await eve.call("join_group", { group: GROUP });
  await alice.ok(`accept_request ${GROUP} eve`);
  return {
    alice,
    eve,
    data,
    meta: await fileMeta(GROUP, "pic.bin", data),
    other: await fileMeta(GROUP, "other.bin", await Deno.readFile(`${src}/other.bin`)),
  };
}

function hello(m: { group: string; name: string; sha1: string }, grant?: unknown): Message {
  const msg: Message = { t: "hello", group: m.group, name: m.name, sha1: m.sha1 };
  if (grant !== undefined) msg.grant = grant;
  return msg;
}

Deno.test("the piece server refuses requesters without a valid grant for the file", async () => {
  await Swarm.run(async (s) => {
    const { alice, eve, meta, other } = await setup(s);
    const atAlice = { addr: alice.addr, tls: eve.tls() };
    try {
      const lookup = await eve.call("lookup_file", { group: GROUP, name: "pic.bin" });
      assert.deepEqual(
        (lookup.peers as { addr: string }[]).map((p) => p.addr),
        [alice.addr],
      );
      const realKey = await trackerSigningKey(s.pair.dataDir(1));
      const grantFor = (g: Partial<Grant>): Grant => ({
        user: "eve",
        id: eve.keyId,
        group: meta.group,
        name: meta.name,
        sha1: meta.sha1,
        exp: Date.now() + 60_000,
        ...g,
      });

      await assertRefused(atAlice, hello(meta), "no grant");
      await assertRefused(atAlice, hello(meta, null), "null grant");
      await assertRefused(atAlice, hello(meta, "let me in"), "grant as a string");

      const forger = await importSigningKey((await newGrantKeyPair()).privateKey);
      const forged = await signGrant(forger, grantFor({}));
      await assertRefused(atAlice, hello(meta, forged), "forged grant");

      const genuine = lookup.grant as { grant: string; sig: string };
      const stretched = JSON.stringify({ ...JSON.parse(genuine.grant), exp: Date.now() + 9e9 });
      await assertRefused(
        atAlice,
        hello(meta, { grant: stretched, sig: genuine.sig }),
        "genuine signature over edited grant text",
      );

      const expired = await signGrant(realKey, grantFor({ exp: Date.now() - 1000 }));
      await assertRefused(atAlice, hello(meta, expired), "expired grant");

      const otherGrant = (await eve.call("lookup_file", { group: GROUP, name: "other.bin" }))
        .grant;
      await assertRefused(atAlice, hello(meta, otherGrant), "other file's grant");
      await assertRefused(atAlice, hello(other, genuine), "pic.bin's grant for other.bin");
      await assertRefused(
        atAlice,
        hello({ ...meta, sha1: other.sha1 }, genuine),
        "grant with another sha1 in the hello",
      );

      // The serving peer logs its refusals (its piece server runs in a worker with its own logger).
      await waitFor(() => alice.stderr.includes("grant expired"), {
        what: "alice's log to name the expired grant",
      });

      // Control: the same key with a later expiry is accepted, so the expiry alone was refused.
      const fresh = await signGrant(realKey, grantFor({}));
      const ok = await probe(atAlice, hello(meta, fresh), [0], 1000);
      assert.equal(ok.frames.filter((f) => f.kind === "data").length, 1);
      // Control: requests sent along with a valid hello are served, so `rush` can see data.
      assert.equal(
        (await rush(atAlice, hello(meta, genuine), [0, 1, 2, 3], 1000)).data.length,
        4,
      );
    } finally {
      await eve.close();
    }
  });
});

Deno.test("a grant from lookup_file gets the file's exact bytes, until the file is withdrawn", async () => {
  await Swarm.run(async (s) => {
    const { alice, eve, data, meta } = await setup(s);
    const atAlice = { addr: alice.addr, tls: eve.tls() };
    try {
      const lookup = await eve.call("lookup_file", { group: GROUP, name: "pic.bin" });
      const c = await PieceClient.connect(atAlice);
      try {
        await c.send(hello(meta, lookup.grant));
        const welcome = await c.next();
        assert.ok(welcome.kind === "json", JSON.stringify(welcome));
        assert.deepEqual(welcome.msg, { t: "welcome", have: "all" });
        for (const p of [3, 0, 2, 1]) await c.send({ t: "get", tag: 100 + p, piece: p });
        await c.send({ t: "get", tag: 7, piece: 4 });
        const got = new Map<number, Uint8Array>();
        let rejected: Message | null = null;
        while (got.size < 4 || rejected === null) {
          const f = await c.next();
          if (f.kind === "data") got.set(f.tag, f.data);
          else if (f.kind === "json" && f.msg.t === "reject") rejected = f.msg;
          else assert.fail(`unexpected ${JSON.stringify(f)}`);
        }
        for (let p = 0; p < 4; p++) {
          const want = data.subarray(p * PIECE_SIZE, Math.min(data.length, (p + 1) * PIECE_SIZE));
          assert.deepEqual(got.get(100 + p), want, `piece ${p}`);
        }
        assert.equal(rejected.tag, 7, "a piece past the end is rejected");
      } finally {
        await c.close();
      }

      const outsider = await RawTracker.connect(s.pair.endpoints[0], await s.pair.ca());
      try {
        await outsider.signUp("mallory", "pw-mallory", `127.0.0.1:${freePort()}`);
        const r = await outsider.request("lookup_file", { group: GROUP, name: "pic.bin" });
        assert.deepEqual(r, { ok: false, error: `not a member of group ${GROUP}` });
      } finally {
        await outsider.close();
      }

      await alice.ok(`stop_share ${GROUP} pic.bin`);
      await assertRefused(atAlice, hello(meta, lookup.grant), "withdrawn file");
    } finally {
      await eve.close();
    }
  });
});
