/**
 * The data of the tracker's answers that a peer reads (the `data` of an
 * `OkResponse`, client.ts), typed and checked. Each decoder throws
 * `BadMessage` (bad_message.ts) naming the answer and the field that is wrong.
 *
 * lookup_file → {group, name, size, pieceSize, pieces, sha1, peers:[{user, addr, have}], grant}
 * login       → {user, token, cert, grantKey?}   (cert: the peer's identity, PEM)
 * renew_cert  → {cert}
 * whoami      → {user, addr, grantKey?}
 * watch       → {index, epoch, revocations:[{index, ep?, user?, group?, name?}], floor, floorEp}
 */
import type { Revocation, SignedGrant } from "../grant.ts";
import { FieldReader, isHaveText, isHex, isObject } from "./_fields.ts";

/** Hex digits of one SHA-1 digest. */
const SHA1_HEX = 40;
/** Longest identity certificate accepted (one is about 700 characters of PEM). */
const MAX_CERT_CHARS = 16 * 1024;
const PEM_BEGIN = "-----BEGIN CERTIFICATE-----";

/**
 * A shared file as a peer registers it (the arguments of `share_file`) and
 * the trackers describe it (`lookup_file`): what a download starts from.
 */
export type FileMeta = {
  group: string;
  name: string;
  size: number;
  pieceSize: number;
  /** Hex SHA-1 of every piece, concatenated. */
  pieces: string;
  sha1: string;
};

/** A peer that offers the file: its user, its piece server's address, and what it has. */
export type LookupPeer = {
  user: string;
  addr: string;
  /** "all", or a bitfield of the pieces it has in base64. */
  have: string;
};

/** The answer to `lookup_file`: the file, who offers it, and the grant to show them. */
export type LookupAnswer = FileMeta & { peers: LookupPeer[]; grant: SignedGrant };

/**
 * The answer to `login`: the session token, the peer's identity certificate
 * (PEM, for the key it sent), and the trackers' grant key once they have one.
 */
export type LoginAnswer = { user: string; token: string; cert: string; grantKey?: string };

/** The answer to `renew_cert`: a fresh identity certificate (PEM) for the key sent. */
export type CertAnswer = { cert: string };

/** The answer to `whoami`: the session's user and peer address, and the grant key. */
export type WhoamiAnswer = { user: string; addr: string; grantKey?: string };

/**
 * The answer to a `watch`: the position to ask from next (`index`, `epoch`),
 * the revocations after the watcher's position, and the floor before which
 * every grant is void (`floor` 0: none).
 */
export type WatchAnswer = {
  index: number;
  epoch: number;
  revocations: Revocation[];
  floor: number;
  floorEp: number;
};

/** Checks the file metadata in a `lookup_file` answer (what a download starts from). */
export function decodeFileMeta(data: Record<string, unknown>): FileMeta {
  const f = new FieldReader("res", "lookup_file answer", data);
  const group = f.str("group");
  const name = f.str("name");
  const size = f.int("size", 0);
  const pieceSize = f.int("pieceSize", 1);
  const sha1 = f.check("sha1", (v) => isHex(v, SHA1_HEX), "sha1 (40 hex digits)");
  const n = Math.ceil(size / pieceSize);
  const pieces = f.check(
    "pieces",
    (v) => isHex(v, n * SHA1_HEX),
    `pieces (${n} SHA-1 digests in hex)`,
  );
  return { group, name, size, pieceSize, pieces, sha1 };
}

/** Checks a whole `lookup_file` answer: the file, its peers and the grant. */
export function decodeLookupAnswer(data: Record<string, unknown>): LookupAnswer {
  const meta = decodeFileMeta(data);
  const f = new FieldReader("res", "lookup_file answer", data);
  const peers = f.list("peers", (v, i) => {
    if (!isObject(v)) throw f.bad(`peers[${i}] (object)`);
    const p = new FieldReader("res", `lookup_file answer peers[${i}]`, v);
    const have = p.check("have", isHaveText, 'have ("all" or base64)');
    return { user: p.str("user"), addr: p.str("addr"), have };
  });
  const signed = f.check("grant", isObject, "grant (object)");
  const g = new FieldReader("res", "lookup_file answer grant", signed);
  return { ...meta, peers, grant: { grant: g.str("grant"), sig: g.str("sig") } };
}

/** Checks a `login` answer. */
export function decodeLoginAnswer(data: Record<string, unknown>): LoginAnswer {
  const f = new FieldReader("res", "login answer", data);
  return withGrantKey<LoginAnswer>(f, {
    user: f.str("user"),
    token: f.str("token"),
    cert: f.check("cert", isPemCert, "cert (a PEM certificate)"),
  });
}

/** Checks a `renew_cert` answer. */
export function decodeCertAnswer(data: Record<string, unknown>): CertAnswer {
  const f = new FieldReader("res", "renew_cert answer", data);
  return { cert: f.check("cert", isPemCert, "cert (a PEM certificate)") };
}

function isPemCert(v: unknown): v is string {
  return typeof v === "string" && v.length <= MAX_CERT_CHARS && v.includes(PEM_BEGIN);
}

/** Checks a `whoami` answer. */
export function decodeWhoamiAnswer(data: Record<string, unknown>): WhoamiAnswer {
  const f = new FieldReader("res", "whoami answer", data);
  return withGrantKey<WhoamiAnswer>(f, { user: f.str("user"), addr: f.str("addr") });
}

/** `answer` with the grant key that `f`'s answer may carry. */
function withGrantKey<T extends { grantKey?: string }>(f: FieldReader, answer: T): T {
  const grantKey = f.optStr("grantKey");
  if (grantKey !== undefined) answer.grantKey = grantKey;
  return answer;
}

/** Checks a `watch` answer, every revocation in it included. */
export function decodeWatchAnswer(data: Record<string, unknown>): WatchAnswer {
  const f = new FieldReader("res", "watch answer", data);
  const revocations = f.list("revocations", (v, i) => {
    if (!isObject(v)) throw f.bad(`revocations[${i}] (object)`);
    const r = new FieldReader("res", `watch answer revocations[${i}]`, v);
    const rev: Revocation = { index: r.int("index") };
    const ep = r.optInt("ep");
    const user = r.optStr("user");
    const group = r.optStr("group");
    const name = r.optStr("name");
    if (ep !== undefined) rev.ep = ep;
    if (user !== undefined) rev.user = user;
    if (group !== undefined) rev.group = group;
    if (name !== undefined) rev.name = name;
    return rev;
  });
  return {
    index: f.int("index"),
    epoch: f.int("epoch"),
    revocations,
    floor: f.int("floor"),
    floorEp: f.int("floorEp"),
  };
}
