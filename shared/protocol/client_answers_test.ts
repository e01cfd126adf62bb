import assert from "node:assert/strict";
import fc from "fast-check";
import { BadMessage } from "./bad_message.ts";
import {
  decodeCertAnswer,
  decodeFileMeta,
  decodeLoginAnswer,
  decodeLookupAnswer,
  decodeWatchAnswer,
  decodeWhoamiAnswer,
  type LookupAnswer,
} from "./client_answers.ts";
import { assertDecodesOrBad, objectLike } from "./_test_support.ts";

/** A PEM certificate as far as the decoders look (the TLS layer checks the rest). */
const CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

const LOOKUP: LookupAnswer = {
  group: "g1",
  name: "a.bin",
  size: 3 * 16384 + 1,
  pieceSize: 16384,
  pieces: "ab".repeat(80),
  sha1: "c".repeat(40),
  peers: [
    { user: "bob", addr: "127.0.0.1:7100", have: "all" },
    { user: "carol", addr: "127.0.0.1:7101", have: "oA==" },
  ],
  grant: { grant: '{"user":"alice"}', sig: "c2ln" },
};

/** Asserts that `decode(data)` throws a BadMessage whose message matches `text`. */
function refuses(decode: (d: Record<string, unknown>) => unknown, data: unknown, text: RegExp) {
  assert.throws(() => decode(data as Record<string, unknown>), (err: unknown) => {
    assert.ok(err instanceof BadMessage, String(err));
    assert.match(err.message, text);
    return true;
  });
}

Deno.test("the answer decoders return good answers as they were sent", () => {
  assert.deepEqual(decodeLookupAnswer(structuredClone(LOOKUP)), LOOKUP);
  const { peers: _, grant: __, ...meta } = LOOKUP;
  assert.deepEqual(decodeFileMeta({ ...LOOKUP }), meta);
  const empty = { ...LOOKUP, size: 0, pieces: "", peers: [] };
  assert.deepEqual(decodeLookupAnswer(empty), empty);
  const logins = [
    { user: "a", token: "t", cert: CERT },
    { user: "a", token: "t", cert: CERT, grantKey: "k" },
  ];
  for (const login of logins) assert.deepEqual(decodeLoginAnswer(login), login);
  assert.deepEqual(decodeCertAnswer({ cert: CERT }), { cert: CERT });
  for (const who of [{ user: "a", addr: "1.2.3.4:5" }, { user: "a", addr: "x:1", grantKey: "k" }]) {
    assert.deepEqual(decodeWhoamiAnswer(who), who);
  }
  const watch = {
    index: 12,
    epoch: 2,
    revocations: [{ index: 3 }, { index: 4, ep: 1, user: "u", group: "g", name: "n" }],
    floor: 0,
    floorEp: 0,
  };
  assert.deepEqual(decodeWatchAnswer(watch), watch);
});

Deno.test("the answer decoders throw BadMessage naming the answer and the field", () => {
  const lookup = (patch: Record<string, unknown>) => ({ ...LOOKUP, ...patch });
  refuses(
    decodeFileMeta,
    lookup({ size: -1 }),
    /^lookup_file answer needs size \(integer of at least 0\)$/,
  );
  refuses(decodeFileMeta, lookup({ size: 2 ** 53 }), /needs size/);
  refuses(decodeFileMeta, lookup({ pieceSize: 0 }), /needs pieceSize \(integer of at least 1\)$/);
  refuses(decodeFileMeta, lookup({ sha1: "C".repeat(40) }), /needs sha1 \(40 hex digits\)$/);
  refuses(decodeFileMeta, lookup({ pieces: "ab" }), /needs pieces \(4 SHA-1 digests in hex\)$/);
  refuses(decodeFileMeta, lookup({ group: 1 }), /needs group \(string\)$/);
  refuses(decodeLookupAnswer, lookup({ peers: {} }), /needs peers \(array\)$/);
  refuses(decodeLookupAnswer, lookup({ peers: [null] }), /needs peers\[0\] \(object\)$/);
  refuses(
    decodeLookupAnswer,
    lookup({ peers: [{ user: "b", addr: "a", have: "?" }] }),
    /^lookup_file answer peers\[0\] needs have \("all" or base64\)$/,
  );
  refuses(decodeLookupAnswer, lookup({ peers: [{ user: "b", have: "all" }] }), /needs addr/);
  refuses(decodeLookupAnswer, lookup({ grant: "x" }), /needs grant \(object\)$/);
  refuses(decodeLookupAnswer, lookup({ grant: { grant: "x" } }), /grant needs sig \(string\)$/);
  refuses(decodeLoginAnswer, { user: "a" }, /^login answer needs token \(string\)$/);
  refuses(decodeLoginAnswer, { user: "a", token: "t", cert: CERT, grantKey: 1 }, /needs grantKey/);
  refuses(
    decodeLoginAnswer,
    { user: "a", token: "t" },
    /^login answer needs cert \(a PEM certificate\)$/,
  );
  refuses(decodeCertAnswer, { cert: "not pem" }, /^renew_cert answer needs cert \(a PEM/);
  refuses(decodeCertAnswer, { cert: CERT.repeat(1000) }, /needs cert/);
  refuses(decodeWhoamiAnswer, { user: "a" }, /^whoami answer needs addr \(string\)$/);
  const watch = { index: 1, epoch: 0, revocations: [], floor: 0, floorEp: 0 };
  refuses(decodeWatchAnswer, { ...watch, index: 1.5 }, /^watch answer needs index \(integer\)$/);
  refuses(decodeWatchAnswer, { ...watch, floorEp: undefined }, /needs floorEp \(integer\)$/);
  refuses(decodeWatchAnswer, { ...watch, revocations: [{}] }, /revocations\[0\] needs index/);
  refuses(decodeWatchAnswer, { ...watch, revocations: [{ index: 1, user: 2 }] }, /needs user/);
  refuses(decodeWatchAnswer, { ...watch, revocations: [7] }, /needs revocations\[0\] \(object\)/);
});

Deno.test("the answer decoders throw nothing but BadMessage on arbitrary JSON objects", () => {
  /** Good answers with some fields replaced by anything, and stray fields added. */
  const patched = (base: Record<string, unknown>, keys: string[]) =>
    objectLike(keys).map((patch) => ({ ...base, ...patch }));
  const lookupKeys = ["group", "name", "size", "pieceSize", "pieces", "sha1", "peers", "grant"];
  assertDecodesOrBad(patched(LOOKUP, lookupKeys), decodeLookupAnswer);
  assertDecodesOrBad(patched(LOOKUP, lookupKeys), decodeFileMeta);
  const peerLike = fc.array(objectLike(["user", "addr", "have"]), { maxLength: 3 });
  const withPeers = fc.tuple(patched(LOOKUP, ["peers", "grant"]), peerLike);
  assertDecodesOrBad(withPeers.map(([a, peers]) => ({ ...a, peers })), decodeLookupAnswer);
  const accountKeys = ["user", "token", "addr", "grantKey", "cert"];
  const account = { user: "a", token: "t", addr: "x:1", grantKey: "k", cert: CERT };
  assertDecodesOrBad(patched(account, accountKeys), decodeLoginAnswer);
  assertDecodesOrBad(patched(account, accountKeys), decodeWhoamiAnswer);
  assertDecodesOrBad(patched(account, accountKeys), decodeCertAnswer);
  const watch = { index: 1, epoch: 0, revocations: [{ index: 1 }], floor: 0, floorEp: 0 };
  const revLike = fc.array(objectLike(["index", "ep", "user", "group", "name"]), { maxLength: 3 });
  const watchLike = fc.tuple(patched(watch, ["index", "epoch", "floor", "floorEp"]), revLike);
  assertDecodesOrBad(
    watchLike.map(([w, revocations]) => ({ ...w, revocations })),
    decodeWatchAnswer,
  );
  assertDecodesOrBad(
    patched(watch, ["index", "epoch", "revocations", "floor", "floorEp"]),
    decodeWatchAnswer,
  );
});
