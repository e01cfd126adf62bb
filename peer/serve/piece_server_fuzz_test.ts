/**
 * Property-based fuzzing of the piece server over real sockets: hostile hellos,
 * grants and requests never get a byte of a file without a valid grant, and
 * never stop the server from serving a well-behaved requester.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { PieceServer } from "./piece_server.ts";
import { PieceListener } from "./piece_listener.ts";
import { dialAs, testCa, type TestIdentity, testIdentity } from "./_test_identities.ts";
import { type ServedFile, ServedFiles } from "./served_files.ts";
import { encodeBase64 } from "../../shared/base64.ts";
import { hasBit } from "../../shared/bitfield.ts";
import { MAX_CONTROL_FRAME } from "../../shared/constants.ts";
import {
  encodeJson,
  type Frame,
  FrameDecoder,
  KIND_DATA,
  type Message,
} from "../../shared/frame.ts";
import {
  type Grant,
  importSigningKey,
  importVerifyKey,
  newGrantKeyPair,
  signGrant,
} from "../../shared/grant.ts";

const PIECE = 16 * 1024;
/** A CA whose certificates are only used for their keys. */
const CA_OF_NOBODY = await testCa();
/** How long a fuzz connection may take to be answered and closed. */
const WAIT_MS = 5000;

interface Fixture {
  dir: string;
  files: Record<"full" | "part", ServedFile & { bytes: Uint8Array }>;
  sign: (g: Partial<Grant>, key?: CryptoKey) => Promise<{ grant: string; sig: string }>;
  forger: CryptoKey;
  signer: CryptoKey;
  server: PieceServer;
  port: number;
  /** The CA, and the requester's identity (the grants are issued to it). */
  ca: string;
  me: TestIdentity;
}

async function setUp(): Promise<Fixture> {
  const dir = await Deno.makeTempDir({ prefix: "shoal_piece_fuzz_" });
  const kp = await newGrantKeyPair();
  const verify = await importVerifyKey(kp.publicKey);
  const signer = await importSigningKey(kp.privateKey);
  const forger = await importSigningKey((await newGrantKeyPair()).privateKey);
  const make = async (name: string, size: number, have: Uint8Array | null, sha1: string) => {
    const bytes = crypto.getRandomValues(new Uint8Array(size));
    const path = `${dir}/${name}`;
    await Deno.writeFile(path, bytes);
    const meta = { group: "g1", name, size, pieceSize: PIECE, pieces: "", sha1 };
    return { meta, path, have, bytes };
  };
  const files = {
    full: await make("movie.bin", 2 * PIECE + 1000, null, "a".repeat(40)),
    // Piece 1 of 3 is not verified yet.
    part: await make("part.bin", 3 * PIECE, Uint8Array.of(0b1010_0000), "b".repeat(40)),
  };
  const served = new ServedFiles();
  served.set(files.full);
  served.set(files.part);
  const ca = await testCa();
  const me = await testIdentity(ca, "carol");
  const listener = await PieceListener.listen({ hostname: "127.0.0.1", port: 0, ca: ca.certPem });
  listener.setIdentity(await testIdentity(ca, "dave"));
  const server = new PieceServer(listener, { files: served, grantKey: () => verify });
  const sign = (g: Partial<Grant>, key = signer) =>
    signGrant(key, {
      user: "carol",
      id: me.keyId,
      group: "g1",
      name: "",
      sha1: "",
      exp: Date.now() + 60_000,
      ...g,
    });
  const port = listener.addr.port;
  return { dir, files, sign, forger, signer, server, port, ca: ca.certPem, me };
}

async function tearDown(fx: Fixture): Promise<void> {
  await fx.server.close();
  // Let the connection tasks the server does not await see their sockets close.
  await new Promise((r) => setTimeout(r, 50));
  await Deno.remove(fx.dir, { recursive: true });
}

/**
 * Sends `chunks` and collects every frame until the server closes or `want` frames have come.
 * (The connection is not half-closed: the server treats end of input as the end of the
 * connection and drops answers still queued.)
 */
async function exchange(fx: Fixture, chunks: Uint8Array[], want: number) {
  const conn = await dialAs(fx.ca, fx.port, fx.me);
  const got: Frame[] = [];
  let reset = false;
  let closed = false;
  const reading = (async () => {
    const d = new FrameDecoder({ maxFrame: 1024 * 1024 });
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        for (const f of d.push(buf.subarray(0, n))) {
          got.push(f.kind === "data" ? { ...f, data: f.data.slice() } : f);
        }
      }
    } catch (err) {
      // The server hung up while bytes were unread: what was in flight may be lost.
      if (!(err instanceof Deno.errors.BadResource)) reset = true;
    }
    closed = true;
  })();
  try {
    for (const c of chunks) await conn.write(c);
  } catch { /* the server may hang up first */ }
  const deadline = Date.now() + WAIT_MS;
  while (!closed && got.length < want && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 2));
  }
  // A moment more, to see anything sent beyond what was expected.
  if (!closed) await new Promise((r) => setTimeout(r, 10));
  try {
    conn.close();
  } catch { /* closed */ }
  await reading;
  return { got, reset };
}

const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(undefined, null, true, 0, -1, 1.5, 2 ** 32, 2 ** 53 + 2, 1e308, -1e308, "", []),
  fc.constantFrom({}, { grant: "{}", sig: "" }, "x".repeat(5000), { grant: "x".repeat(5000) }),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 12 }),
  fc.jsonValue({ maxDepth: 2 }),
);

type Which = "full" | "part";
const which = fc.constantFrom<Which>("full", "part");

/** How the first message is built; `valid` hellos name the file their grant is for. */
const helloPlan = fc.oneof(
  { weight: 4, arbitrary: which.map((f) => ({ kind: "valid" as const, f })) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constantFrom(
        "expired" as const,
        "forged" as const,
        "tampered" as const,
        "otherFile" as const,
        "wrongSha" as const,
        "unserved" as const,
        "noGrant" as const,
        "otherUser" as const,
        "otherKey" as const,
      ),
      f: which,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("junkGrant" as const), f: which, grant: junk }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("junkHello" as const),
      msg: fc.record({
        t: fc.constantFrom("hello", "hello", "get", "welcome", ""),
        group: fc.oneof(fc.constant("g1"), junk),
        name: fc.oneof(fc.constantFrom("movie.bin", "part.bin"), junk),
        sha1: fc.oneof(fc.constantFrom("a".repeat(40), "b".repeat(40)), junk),
        grant: junk,
      }, { requiredKeys: ["t"] }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("raw" as const),
      bytes: fc.uint8Array({ maxLength: 40 }),
    }),
  },
);

type HelloPlan = typeof helloPlan extends fc.Arbitrary<infer T> ? T : never;

/** Requests after the hello: mostly gets with odd tags and pieces, sometimes anything. */
const follow = fc.array(
  fc.oneof(
    {
      weight: 10,
      arbitrary: fc.record({
        tag: fc.oneof(fc.nat(1000), junk),
        piece: fc.oneof(fc.integer({ min: -2, max: 4 }), junk),
      }, { requiredKeys: [] }).map((g) => encodeJson({ t: "get", ...g })),
    },
    { weight: 1, arbitrary: fc.constant(encodeJson({ t: "hello" })) },
    { weight: 1, arbitrary: fc.constant(Uint8Array.of(0, 0, 0, 6, KIND_DATA, 0, 0, 0, 1, 9)) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 24 }) },
  ),
  { maxLength: 20 },
);

async function helloBytes(fx: Fixture, p: HelloPlan): Promise<Uint8Array> {
  if (p.kind === "raw") return p.bytes;
  if (p.kind === "junkHello") return encodeJson(p.msg as Message);
  const file = fx.files[p.f].meta;
  const other = fx.files[p.f === "full" ? "part" : "full"].meta;
  const claim = { group: file.group, name: file.name, sha1: file.sha1 };
  const hello = (grant: unknown, c: Partial<typeof claim> = {}) =>
    encodeJson({ t: "hello", ...claim, ...c, grant });
  switch (p.kind) {
    case "valid":
      return hello(await fx.sign(claim));
    case "expired":
      return hello(await fx.sign({ ...claim, exp: Date.now() - 1 }));
    case "forged":
      return hello(await fx.sign(claim, fx.forger));
    case "tampered": {
      const g = await fx.sign({ ...claim, name: other.name });
      return hello({ grant: g.grant.replace(other.name, file.name), sig: g.sig });
    }
    case "otherFile":
      return hello(await fx.sign({ group: other.group, name: other.name, sha1: other.sha1 }));
    case "wrongSha": {
      const c = { ...claim, sha1: "c".repeat(40) };
      return hello(await fx.sign(c), c);
    }
    case "unserved": {
      const c = { ...claim, group: "g2" };
      return hello(await fx.sign(c), c);
    }
    case "noGrant":
      return encodeJson({ t: "hello", ...claim });
    // Good grants, but issued to another identity than the one the requester's certificate shows.
    case "otherUser":
      return hello(await fx.sign({ ...claim, user: "mallory" }));
    case "otherKey":
      return hello(
        await fx.sign({ ...claim, id: (await testIdentity(CA_OF_NOBODY, "carol")).keyId }),
      );
    case "junkGrant":
      return hello(p.grant);
  }
}

/** Frames of `bytes` as the server's decoder sees them, and whether it then fails. */
function decode(bytes: Uint8Array): { frames: Frame[]; malformed: boolean } {
  const d = new FrameDecoder({ maxFrame: MAX_CONTROL_FRAME });
  const frames: Frame[] = [];
  for (let i = 0; i < bytes.length; i++) {
    try {
      frames.push(...d.push(bytes.subarray(i, i + 1)));
    } catch {
      return { frames, malformed: true };
    }
  }
  return { frames, malformed: false };
}

/** An answer of the server, data frames as `<data>`. */
interface Reply {
  t: string;
  tag?: unknown;
  error?: string;
  have?: string;
  data?: Uint8Array;
}

/** What a correct server answers to `frames`, the first being the hello. */
function expected(fx: Fixture, valid: Which | null, frames: Frame[]): Reply[] {
  const [first, ...rest] = frames;
  if (!first) return [];
  if (first.kind !== "json") return [];
  if (!valid) return [{ t: "error" }];
  const f = fx.files[valid];
  const out: Reply[] = [{ t: "welcome", have: f.have ? encodeBase64(f.have) : "all" }];
  const n = Math.ceil(f.meta.size / PIECE);
  for (const fr of rest) {
    if (fr.kind !== "json" || fr.msg.t !== "get") {
      out.push({ t: "error", error: "expected get" });
      break;
    }
    const { tag, piece } = fr.msg;
    const reject = (error: string) => JSON.parse(JSON.stringify({ t: "reject", tag, error }));
    if (
      typeof tag !== "number" || !Number.isInteger(piece) || (piece as number) < 0 ||
      (piece as number) >= n
    ) {
      out.push(reject("no such piece"));
    } else if (f.have && !hasBit(f.have, piece as number)) {
      out.push(reject("piece not here yet"));
    } else {
      const p = piece as number;
      out.push({
        t: "<data>",
        tag: tag >>> 0,
        data: f.bytes.subarray(p * PIECE, Math.min((p + 1) * PIECE, f.meta.size)),
      });
    }
  }
  return out;
}

function summary(frames: Frame[]): Reply[] {
  return frames.map((f) =>
    f.kind === "data"
      ? { t: "<data>", tag: f.tag, data: f.data }
      : f.msg.t === "error"
      ? { t: "error", ...(f.msg.error === "expected get" ? { error: "expected get" } : {}) }
      : f.msg as Reply
  );
}

/** A well-behaved requester: fetches every piece of the full file and checks the bytes. */
async function fetchAll(fx: Fixture): Promise<void> {
  const file = fx.files.full;
  const hello = encodeJson({ t: "hello", ...claimOf(file), grant: await fx.sign(claimOf(file)) });
  const gets = [0, 1, 2].map((p) => encodeJson({ t: "get", tag: 100 + p, piece: p }));
  const want = expected(fx, "full", decode(concat([hello, ...gets])).frames);
  const { got } = await exchange(fx, [hello, ...gets], want.length);
  assert.deepEqual(summary(got), want);
}

/** Signs any text with the trackers' key, as `signGrant` signs a grant's JSON. */
async function signText(key: CryptoKey, text: string): Promise<{ grant: string; sig: string }> {
  const sig = await crypto.subtle.sign("Ed25519", key, new TextEncoder().encode(text));
  return { grant: text, sig: encodeBase64(new Uint8Array(sig)) };
}

function claimOf(f: ServedFile) {
  return { group: f.meta.group, name: f.meta.name, sha1: f.meta.sha1 };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

Deno.test("piece server: no file byte without a valid grant, and hostile input never stops it", async () => {
  const fx = await setUp();
  try {
    await fc.assert(
      fc.asyncProperty(helloPlan, follow, async (plan, rest) => {
        const hello = await helloBytes(fx, plan);
        const bytes = concat([hello, ...rest]);
        const valid = plan.kind === "valid" ? plan.f : null;
        const { frames, malformed } = decode(bytes);
        const want = expected(fx, valid, frames);
        const [{ got, reset }] = await Promise.all([
          exchange(fx, [hello, ...rest], want.length),
          fetchAll(fx),
        ]);
        const seen = summary(got);
        if (!valid) {
          assert.ok(!got.some((f) => f.kind === "data"), "file bytes sent without a valid grant");
        }
        // After a request that is not a get, the error may overtake answers still queued, and
        // those after it may be dropped: compare the answers and the error separately.
        const violation = want.at(-1)?.error === "expected get";
        const answers = seen.filter((r) => r.t !== "error" || r.error !== "expected get");
        const errors = seen.length - answers.length;
        if (malformed || reset) {
          // Frames in the same read as a malformed one are dropped with it, and a reset loses
          // what was in flight: what arrives is a prefix of the answer, maybe then an error.
          const last = answers.at(-1);
          const body = last?.t === "error" && malformed ? answers.slice(0, -1) : answers;
          assert.deepEqual(body, want.slice(0, body.length));
          assert.ok(errors <= 1);
        } else if (violation) {
          assert.deepEqual(answers, want.slice(0, answers.length));
          assert.equal(errors, 1, "no error for a request that is not a get");
        } else {
          assert.deepEqual(seen, want);
        }
      }),
      { numRuns: 200, endOnFailure: true },
    );
    await fetchAll(fx);
  } finally {
    await tearDown(fx);
  }
});

Deno.test("piece server: a validly signed grant that is not a JSON object is refused with an error", async () => {
  const fx = await setUp();
  try {
    const claim = claimOf(fx.files.full);
    for (const value of [null, 1, "x", [], {}]) {
      // Authentic (signed with the trackers' key) but not a grant object.
      const grant = await signText(fx.signer, JSON.stringify(value));
      const hello = encodeJson({ t: "hello", ...claim, grant });
      const { got } = await exchange(fx, [hello], 1);
      assert.deepEqual(summary(got), [{ t: "error" }], `grant text ${grant.grant}`);
    }
    await fetchAll(fx);
  } finally {
    await tearDown(fx);
  }
});
