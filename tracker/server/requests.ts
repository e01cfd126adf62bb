/**
 * The client-facing edges of a write or read that the pure core cannot do:
 * checking a request message's shape, hashing passwords before a proposal,
 * and adding the grant key and signed grants to answers.
 */
import type { Message } from "../../shared/frame.ts";
import { GRANT_TTL_MS, importSigningKey, signGrant } from "../../shared/grant.ts";
import { clip } from "../../shared/names.ts";
import { BadMessage, unexpectedType } from "../../shared/protocol/bad_message.ts";
import {
  BadRequest,
  type ClientMessage,
  decodeClientMessage,
  failResponse,
  okResponse,
} from "../../shared/protocol/client.ts";
import { randomHex } from "../replication/cluster_key.ts";
import { type ProposeEnv, READ_COMMANDS, type Request, WRITE_COMMANDS } from "../state/commands.ts";
import type { Result } from "../state/ops.ts";
import { parsePubkey } from "./identity.ts";
import { hashPassword, newCredentials } from "./passwords.ts";
import type { TrackerState } from "../state/state.ts";

/** The refusal of a lookup_file without the asking peer's identity. */
export const LOOKUP_NEEDS_ID = "lookup_file needs id (the identity key's SHA-256)";
/** An identity key's SHA-256 in base64 (shared/tls/cert_info.ts `keyIdOf`). */
const KEY_ID = /^[A-Za-z0-9+/]{43}=$/;

/** Thrown when create_user or login has no usable password. */
export class BadPassword extends Error {
  constructor() {
    super("password must be 1-1024 characters");
    this.name = "BadPassword";
  }
}

/** The wire answer to request `id`. */
export function replyTo(id: string, r: Result): Message {
  return r.ok ? okResponse(id, r.data) : failResponse(id, r.error);
}

/**
 * Decodes a `{t:"req"}` message (shared/protocol/client.ts) and checks that
 * its command exists: the request, or the answer that refuses it.
 */
export function parseRequest(msg: Message): { id: string; req: Request } | { refuse: Message } {
  let m: ClientMessage;
  try {
    m = decodeClientMessage(msg);
  } catch (err) {
    if (err instanceof BadRequest) return { refuse: failResponse(err.id, err.message) };
    if (err instanceof BadMessage) return { refuse: failResponse(null, err.message) };
    throw err;
  }
  if (m.t !== "req") return { refuse: failResponse(null, unexpectedType(m.t)) };
  const { id, cmd, args, token } = m;
  if (!READ_COMMANDS.has(cmd) && !WRITE_COMMANDS.has(cmd)) {
    return { refuse: replyTo(id, { ok: false, error: `unknown command ${clip(cmd)}` }) };
  }
  return { id, req: { cmd, args, token } };
}

/**
 * Makes what a proposal needs from outside the core: time, a token, password
 * hashes. Throws {@linkcode BadPassword}, or `BadPubkey` for a login without
 * a usable identity key.
 */
export async function prepareEnv(state: TrackerState, req: Request): Promise<ProposeEnv> {
  const env: ProposeEnv = { now: Date.now(), token: randomHex(32) };
  const pw = req.args.password;
  if (req.cmd === "create_user" || req.cmd === "login") {
    if (typeof pw !== "string" || pw.length === 0 || pw.length > 1024) throw new BadPassword();
  }
  if (req.cmd === "login") await parsePubkey(req.args.pubkey);
  // No hash for a name that is taken: propose refuses it anyway.
  if (req.cmd === "create_user" && !state.users.has(String(req.args.user))) {
    env.credentials = await newCredentials(pw as string);
  }
  if (req.cmd === "login" && typeof req.args.user === "string") {
    const u = state.users.get(req.args.user);
    if (u) env.loginHash = await hashPassword(pw as string, u.salt, u.iterations);
  }
  return env;
}

/** Adds the grant key to login and whoami answers and a signed grant to lookups. */
export class GrantSigner {
  #key: { pkcs8: string; key: CryptoKey } | null = null;

  /** The decorated answer, or null when no grant key exists yet (the tracker is not ready). */
  async decorate(state: TrackerState, req: Request, r: Result): Promise<Result | null> {
    if (!r.ok) return r;
    const gk = state.grantKey;
    if (req.cmd === "login" || req.cmd === "whoami") {
      return gk ? { ok: true, data: { ...r.data, grantKey: gk.publicKey } } : r;
    }
    if (req.cmd !== "lookup_file") return r;
    const id = req.args.id;
    if (typeof id !== "string" || !KEY_ID.test(id)) return { ok: false, error: LOOKUP_NEEDS_ID };
    if (!gk) return null;
    if (this.#key?.pkcs8 !== gk.privateKey) {
      this.#key = { pkcs8: gk.privateKey, key: await importSigningKey(gk.privateKey) };
    }
    const user = state.session(req.token)?.user;
    if (!user) return { ok: false, error: "not logged in" };
    const d = r.data as { group: string; name: string; sha1: string };
    const grant = await signGrant(this.#key.key, {
      user,
      id,
      group: d.group,
      name: d.name,
      sha1: d.sha1,
      exp: Date.now() + GRANT_TTL_MS,
      idx: state.index,
      ep: state.epoch,
    });
    return { ok: true, data: { ...r.data, grant } };
  }
}
