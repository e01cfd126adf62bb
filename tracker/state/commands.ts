/**
 * Client commands against the tracker state: reads are answered by `query`,
 * writes are turned into ops by `propose` (validated, fully decided) and then
 * applied through the log. Both are pure functions of the state.
 */
import { fail, ok, type Op, type Result } from "./ops.ts";
import { pieceCount, type Session, type TrackerState } from "./state.ts";
import { checkFileName, checkId, clip } from "../../shared/names.ts";
import { formatEndpoint, parseEndpoint } from "../../shared/tracker_info.ts";
import { encodeBase64 } from "../../shared/base64.ts";

/** A client's command, as received from the wire. */
export interface Request {
  cmd: string;
  args: Record<string, unknown>;
  token?: string;
}

/** Commands that change state and go through the replicated log. */
export const WRITE_COMMANDS: ReadonlySet<string> = new Set([
  "create_user",
  "login",
  "logout",
  "set_serving",
  "create_group",
  "join_group",
  "leave_group",
  "accept_request",
  "reject_request",
  "share_file",
  "stop_share",
  "report_pieces",
]);

/** Commands answered from the state without a log entry. */
export const READ_COMMANDS: ReadonlySet<string> = new Set([
  "whoami",
  "list_groups",
  "list_requests",
  "list_files",
  "lookup_file",
  "watch",
  "renew_cert",
]);

/** What a write needs that the pure core cannot make: the time, randomness, password hashes. */
export interface ProposeEnv {
  now: number;
  /** A fresh 256-bit session token (hex), used by login. */
  token: string;
  /** For create_user: the salted hash of the new password. */
  credentials?: { salt: string; hash: string; iterations: number };
  /** For login: the password hashed with the user's stored salt and iterations. */
  loginHash?: string;
}

/** Largest file the registry accepts (1 TiB). */
export const MAX_FILE_SIZE = 2 ** 40;
/** Piece sizes the registry accepts. */
export const MIN_PIECE_SIZE = 16 * 1024;
export const MAX_PIECE_SIZE = 16 * 1024 * 1024;

class BadArgs extends Error {}

function str(args: Record<string, unknown>, key: string): string {
  const v = args[key];
  if (typeof v !== "string") throw new BadArgs(`missing argument ${key}`);
  return v;
}

function id(args: Record<string, unknown>, key: string, kind: "user" | "group"): string {
  const v = str(args, key);
  const err = checkId(kind, v);
  if (err) throw new BadArgs(err);
  return v;
}

function int(args: Record<string, unknown>, key: string, min: number, max: number): number {
  const v = args[key];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new BadArgs(`argument ${key} must be an integer from ${min} to ${max}`);
  }
  return v;
}

function fileName(args: Record<string, unknown>): string {
  const v = str(args, "name");
  const err = checkFileName(v);
  if (err) throw new BadArgs(err);
  return v;
}

/** The user behind a request's token, or a failure result. */
function caller(state: TrackerState, req: Request): string | Result {
  const s = state.session(req.token);
  return s ? s.user : fail("not logged in");
}

function member(state: TrackerState, user: string, group: string): Result | null {
  const g = state.groups.get(group);
  if (!g) return fail(`no group ${group}`);
  if (!g.members.includes(user)) return fail(`not a member of group ${group}`);
  return null;
}

/** Validates a write command and turns it into an op, or answers it with a failure. */
export function propose(
  state: TrackerState,
  req: Request,
  env: ProposeEnv,
): { op: Op } | { result: Result } {
  try {
    return proposeUnchecked(state, req, env);
  } catch (err) {
    if (err instanceof BadArgs) return { result: fail(err.message) };
    throw err;
  }
}

function proposeUnchecked(
  state: TrackerState,
  req: Request,
  env: ProposeEnv,
): { op: Op } | { result: Result } {
  const a = req.args;
  if (req.cmd === "create_user") {
    const user = id(a, "user", "user");
    if (state.users.has(user)) return { result: fail(`user ${user} already exists`) };
    if (!env.credentials) throw new Error("create_user proposed without credentials");
    return { op: { kind: "create_user", user, ...env.credentials, at: env.now } };
  }
  if (req.cmd === "login") {
    const user = id(a, "user", "user");
    let addr: string;
    try {
      addr = formatEndpoint(parseEndpoint(str(a, "addr")));
    } catch (err) {
      if (err instanceof BadArgs) throw err;
      return { result: fail((err as Error).message) };
    }
    const u = state.users.get(user);
    if (!u) return { result: fail(`no user ${user}`) };
    if (env.loginHash === undefined || !equalHex(env.loginHash, u.hash)) {
      return { result: fail(`wrong password for ${user}`) };
    }
    return { op: { kind: "login", user, token: env.token, addr, at: env.now } };
  }
  const who = caller(state, req);
  if (typeof who !== "string") return { result: who };
  switch (req.cmd) {
    case "logout":
      return { op: { kind: "logout", token: req.token! } };
    case "set_serving": {
      if (typeof a.serving !== "boolean") {
        throw new BadArgs("argument serving must be true or false");
      }
      return { op: { kind: "set_serving", token: req.token!, serving: a.serving } };
    }
    case "create_group": {
      const group = id(a, "group", "group");
      if (state.groups.has(group)) return { result: fail(`group ${group} already exists`) };
      return { op: { kind: "create_group", user: who, group, at: env.now } };
    }
    case "join_group": {
      const group = id(a, "group", "group");
      const g = state.groups.get(group);
      if (!g) return { result: fail(`no group ${group}`) };
      if (g.members.includes(who)) return { result: fail(`already a member of group ${group}`) };
      if (g.pending.includes(who)) {
        return { result: fail(`join request for group ${group} is already pending`) };
      }
      return { op: { kind: "join_group", user: who, group } };
    }
    case "leave_group": {
      const group = id(a, "group", "group");
      const err = member(state, who, group);
      if (err) return { result: err };
      return { op: { kind: "leave_group", user: who, group } };
    }
    case "accept_request":
    case "reject_request": {
      const group = id(a, "group", "group");
      const target = id(a, "user", "user");
      const g = state.groups.get(group);
      if (!g) return { result: fail(`no group ${group}`) };
      if (g.owner !== who) return { result: fail(`not the owner of group ${group}`) };
      if (!g.pending.includes(target)) {
        return { result: fail(`no join request from ${target} in group ${group}`) };
      }
      return { op: { kind: req.cmd, user: who, group, member: target } };
    }
    case "share_file":
      return proposeShare(state, who, a, env);
    case "stop_share": {
      const group = id(a, "group", "group");
      const name = fileName(a);
      const err = member(state, who, group);
      if (err) return { result: err };
      if (!state.file(group, name)?.sources.has(who)) {
        return { result: fail(`you do not share ${name} in group ${group}`) };
      }
      return { op: { kind: "stop_share", user: who, group, name } };
    }
    case "report_pieces": {
      const group = id(a, "group", "group");
      const name = fileName(a);
      const err = member(state, who, group);
      if (err) return { result: err };
      const f = state.file(group, name);
      if (!f) return { result: fail(`no file ${name} in group ${group}`) };
      const n = pieceCount(f.size, f.pieceSize);
      const pieces = a.pieces;
      if (
        !Array.isArray(pieces) || pieces.length === 0 || pieces.length > n ||
        !pieces.every((p) => Number.isInteger(p) && p >= 0 && p < n)
      ) {
        return { result: fail(`argument pieces must list piece numbers from 0 to ${n - 1}`) };
      }
      return { op: { kind: "report_pieces", user: who, group, name, pieces: pieces as number[] } };
    }
  }
  return { result: fail(`unknown command ${clip(req.cmd)}`) };
}

function proposeShare(
  state: TrackerState,
  who: string,
  a: Record<string, unknown>,
  env: ProposeEnv,
): { op: Op } | { result: Result } {
  const group = id(a, "group", "group");
  const name = fileName(a);
  const size = int(a, "size", 0, MAX_FILE_SIZE);
  const pieceSize = int(a, "pieceSize", MIN_PIECE_SIZE, MAX_PIECE_SIZE);
  if ((pieceSize & (pieceSize - 1)) !== 0) {
    return { result: fail("argument pieceSize must be a power of two") };
  }
  const sha1 = str(a, "sha1");
  const pieces = str(a, "pieces");
  if (!/^[0-9a-f]{40}$/.test(sha1)) return { result: fail("argument sha1 must be 40 hex digits") };
  const n = pieceCount(size, pieceSize);
  if (pieces.length !== n * 40 || !/^[0-9a-f]*$/.test(pieces)) {
    return { result: fail(`argument pieces must be ${n} SHA-1 digests in hex`) };
  }
  const err = member(state, who, group);
  if (err) return { result: err };
  const f = state.file(group, name);
  if (
    f && (f.sha1 !== sha1 || f.size !== size || f.pieceSize !== pieceSize || f.pieces !== pieces)
  ) {
    return {
      result: fail(`a different file named ${name} is already shared in group ${group}`),
    };
  }
  return {
    op: { kind: "share_file", user: who, group, name, size, pieceSize, pieces, sha1, at: env.now },
  };
}

/** Which sessions' peers are alive; without it every serving session counts as online. */
export interface LivenessView {
  online(session: Session): boolean;
}

/** Answers a read command from the state. */
export function query(state: TrackerState, req: Request, live?: LivenessView): Result {
  try {
    return queryUnchecked(state, req, live);
  } catch (err) {
    if (err instanceof BadArgs) return fail(err.message);
    throw err;
  }
}

function queryUnchecked(state: TrackerState, req: Request, live?: LivenessView): Result {
  const online = (user: string) => {
    const s = state.serving(user);
    return s && (!live || live.online(s)) ? s : undefined;
  };
  const who = caller(state, req);
  if (typeof who !== "string") return who;
  const a = req.args;
  switch (req.cmd) {
    case "whoami": {
      const s = state.session(req.token)!;
      return ok({ user: s.user, addr: s.addr });
    }
    case "watch":
      // The server holds the answer (tracker/server/presence.ts); here only the session is checked.
      return ok({ user: who });
    case "renew_cert":
      // The certificate is issued around this (tracker/server/identity.ts).
      return ok({ user: who });
    case "list_groups":
      return ok({
        groups: [...state.groups.values()].map((g) => ({
          group: g.id,
          owner: g.owner,
          members: g.members.length,
          member: g.members.includes(who),
          pending: g.pending.includes(who),
        })),
      });
    case "list_requests": {
      const group = id(a, "group", "group");
      const g = state.groups.get(group);
      if (!g) return fail(`no group ${group}`);
      if (g.owner !== who) return fail(`not the owner of group ${group}`);
      return ok({ group, requests: [...g.pending] });
    }
    case "list_files": {
      const group = id(a, "group", "group");
      const err = member(state, who, group);
      if (err) return err;
      const files = [];
      for (const f of state.files.values()) {
        if (f.group !== group) continue;
        const n = pieceCount(f.size, f.pieceSize);
        let seeders = 0;
        let partial = 0;
        for (const src of f.sources.values()) {
          if (!online(src.user)) continue;
          if (src.count === n) seeders++;
          else partial++;
        }
        files.push({ name: f.name, size: f.size, sha1: f.sha1, seeders, partial });
      }
      files.sort((x, y) => x.name < y.name ? -1 : x.name > y.name ? 1 : 0);
      return ok({ group, files });
    }
    case "lookup_file": {
      const group = id(a, "group", "group");
      const name = fileName(a);
      const err = member(state, who, group);
      if (err) return err;
      const f = state.file(group, name);
      if (!f) return fail(`no file ${name} in group ${group}`);
      const n = pieceCount(f.size, f.pieceSize);
      const peers = [];
      for (const src of f.sources.values()) {
        const s = online(src.user);
        if (src.user === who || !s) continue;
        peers.push({
          user: src.user,
          addr: s.addr,
          have: src.count === n ? "all" : encodeBase64(src.have),
        });
      }
      return ok({
        group,
        name,
        size: f.size,
        pieceSize: f.pieceSize,
        pieces: f.pieces,
        sha1: f.sha1,
        peers,
      });
    }
  }
  return fail(`unknown command ${clip(req.cmd)}`);
}

function equalHex(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
