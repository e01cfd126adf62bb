/**
 * Field checks for what the other tracker sends: ops, log entries and whole
 * state snapshots. The other tracker is authenticated, but what it sends is
 * applied here, so a malformed field is a {@linkcode LinkMessageError} (the
 * link closes with it), never a crash or a bad op in the log.
 */
import type { LogEntry, Op } from "../state/ops.ts";
import type { StateSnapshot } from "../state/records.ts";

/** A message of the tracker link is malformed or out of place. */
export class LinkMessageError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LinkMessageError";
  }
}

/** A field's type: `pieces` is a list of piece numbers, `strings` a list of strings, `?` optional. */
type Field =
  | "string"
  | "number"
  | "boolean"
  | "pieces"
  | "strings"
  | "string?"
  | "number?"
  | "boolean?";
type Shape = Record<string, Field>;

/** The fields that describe a shared file, in a share_file op and in a snapshot. */
const FILE_META: Shape = {
  group: "string",
  name: "string",
  size: "number",
  pieceSize: "number",
  pieces: "string",
  sha1: "string",
};

/** The fields every op kind must carry, and their types. */
const OP_FIELDS: Record<Op["kind"], Shape> = {
  create_user: {
    user: "string",
    salt: "string",
    hash: "string",
    iterations: "number",
    at: "number",
  },
  login: { user: "string", token: "string", addr: "string", at: "number" },
  logout: { token: "string" },
  set_serving: { token: "string", serving: "boolean" },
  create_group: { user: "string", group: "string", at: "number" },
  join_group: { user: "string", group: "string" },
  leave_group: { user: "string", group: "string" },
  accept_request: { user: "string", group: "string", member: "string" },
  reject_request: { user: "string", group: "string", member: "string" },
  share_file: { user: "string", ...FILE_META, at: "number" },
  stop_share: { user: "string", group: "string", name: "string" },
  report_pieces: { user: "string", group: "string", name: "string", pieces: "pieces" },
  set_grant_key: { privateKey: "string", publicKey: "string" },
  epoch: { epoch: "number", tracker: "number" },
  conflict: { from: "number", reqId: "string?", summary: "string", reason: "string", at: "number" },
};

/** True for a plain JSON object (not null, not an array). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** True for a log position or epoch: a safe integer, 0 or more. */
export function isIndex(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function isOpKind(kind: unknown): kind is Op["kind"] {
  return typeof kind === "string" && Object.hasOwn(OP_FIELDS, kind);
}

function fieldOk(v: unknown, type: Field): boolean {
  switch (type) {
    case "number":
      return typeof v === "number" && Number.isFinite(v);
    case "pieces":
      return Array.isArray(v) && v.every((p) => Number.isSafeInteger(p));
    case "strings":
      return Array.isArray(v) && v.every((s) => typeof s === "string");
    case "string?":
      return v === undefined || typeof v === "string";
    case "number?":
      return v === undefined || (typeof v === "number" && Number.isFinite(v));
    case "boolean?":
      return v === undefined || typeof v === "boolean";
    case "string":
      return typeof v === "string";
    case "boolean":
      return typeof v === "boolean";
  }
}

/** True for an object whose fields have the types `shape` gives. */
function shaped(v: unknown, shape: Shape): boolean {
  return isRecord(v) && Object.entries(shape).every(([name, type]) => fieldOk(v[name], type));
}

function assertOp(v: unknown): asserts v is Op {
  if (!isRecord(v)) throw new LinkMessageError("Entry without an op object");
  const kind = v.kind;
  if (!isOpKind(kind)) {
    throw new LinkMessageError(`Entry with unknown op kind ${String(kind).slice(0, 40)}`);
  }
  for (const [name, type] of Object.entries(OP_FIELDS[kind])) {
    if (!fieldOk(v[name], type)) {
      throw new LinkMessageError(`Entry ${kind} with a malformed field ${name}`);
    }
  }
}

/** Checks an op received on the link; throws {@linkcode LinkMessageError}. */
export function checkOp(v: unknown): Op {
  assertOp(v);
  return v;
}

/** Checks the entries of an `entries`, `op` or `merge` message; throws {@linkcode LinkMessageError}. */
export function checkEntries(v: unknown): LogEntry[] {
  if (!Array.isArray(v)) throw new LinkMessageError("Message without an entries array");
  return v.map((x) => {
    if (!isRecord(x)) throw new LinkMessageError("Entry not an object");
    const { index, epoch, reqId, op } = x;
    if (!isIndex(index) || index === 0 || !isIndex(epoch)) {
      throw new LinkMessageError("Entry with a malformed index or epoch");
    }
    if (reqId !== undefined && (typeof reqId !== "string" || reqId.length > 128)) {
      throw new LinkMessageError("Entry with a malformed request id");
    }
    const e: LogEntry = { index, epoch, op: checkOp(op) };
    if (reqId !== undefined) e.reqId = reqId;
    return e;
  });
}

const USER: Shape = {
  id: "string",
  salt: "string",
  hash: "string",
  iterations: "number",
  created: "number",
};
const SESSION: Shape = {
  token: "string",
  user: "string",
  addr: "string",
  at: "number",
  ep: "number?",
  idx: "number?",
  away: "boolean?",
};
const GROUP: Shape = {
  id: "string",
  owner: "string",
  members: "strings",
  pending: "strings",
  created: "number",
};
const FILE: Shape = { ...FILE_META, created: "number" };
const SOURCE: Shape = { user: "string", have: "string" };
const KEY_PAIR: Shape = { privateKey: "string", publicKey: "string" };
const CONFLICT: Shape = {
  from: "number",
  reqId: "string?",
  summary: "string",
  reason: "string",
  at: "number",
};

function listOf(v: unknown, ok: (item: unknown) => boolean, what: string): void {
  if (!Array.isArray(v) || !v.every(ok)) {
    throw new LinkMessageError(`Snapshot with malformed ${what}`);
  }
}

function isResult(v: unknown): boolean {
  if (!isRecord(v)) return false;
  return v.ok === true ? isRecord(v.data) : v.ok === false && typeof v.error === "string";
}

function assertSnapshot(v: unknown): asserts v is StateSnapshot {
  if (!isRecord(v) || !isIndex(v.index) || !isIndex(v.epoch)) {
    throw new LinkMessageError("Snapshot without an index and epoch");
  }
  listOf(v.users, (u) => shaped(u, USER), "users");
  listOf(v.sessions, (s) => shaped(s, SESSION), "sessions");
  listOf(v.groups, (g) => shaped(g, GROUP), "groups");
  listOf(
    v.files,
    (f) =>
      shaped(f, FILE) && isRecord(f) && Array.isArray(f.sources) &&
      f.sources.every((s) => shaped(s, SOURCE)),
    "files",
  );
  if (v.grantKey !== null && !shaped(v.grantKey, KEY_PAIR)) {
    throw new LinkMessageError("Snapshot with a malformed grant key");
  }
  listOf(
    v.dedup,
    (d) => Array.isArray(d) && d.length === 2 && typeof d[0] === "string" && isResult(d[1]),
    "request results",
  );
  if (v.conflicts !== undefined) listOf(v.conflicts, (c) => shaped(c, CONFLICT), "conflicts");
}

/** Checks a whole-state snapshot received on the link; throws {@linkcode LinkMessageError}. */
export function checkSnapshot(v: unknown): StateSnapshot {
  assertSnapshot(v);
  return v;
}
