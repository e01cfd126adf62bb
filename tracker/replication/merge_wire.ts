/**
 * The link messages of a partition merge, checked on arrival: the epoch runs
 * of a `sync` and the entries of a `merge`. The other tracker is
 * authenticated, but what it sends is re-applied here, so a malformed field is
 * a {@linkcode MergeMessageError} (the link closes with it), never a crash or
 * a bad op in the log.
 */
import type { LogEntry, Op } from "../state/ops.ts";
import type { EpochRuns } from "../state/merge.ts";

/** Entries of a solo tail sent in one `merge` frame. */
export const MERGE_BATCH = 500;
/** Most epoch runs a `sync` may carry. */
export const MAX_RUNS = 100_000;

/** A `sync` or `merge` message of the tracker link is malformed. */
export class MergeMessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MergeMessageError";
  }
}

type Field = "string" | "number" | "boolean" | "pieces";

/** The fields every op kind must carry, and their types. */
const OP_FIELDS: Record<Op["kind"], Record<string, Field>> = {
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
  share_file: {
    user: "string",
    group: "string",
    name: "string",
    size: "number",
    pieceSize: "number",
    pieces: "string",
    sha1: "string",
    at: "number",
  },
  stop_share: { user: "string", group: "string", name: "string" },
  report_pieces: { user: "string", group: "string", name: "string", pieces: "pieces" },
  set_grant_key: { privateKey: "string", publicKey: "string" },
  epoch: { epoch: "number", tracker: "number" },
  conflict: { from: "number", summary: "string", reason: "string", at: "number" },
};

function isIndex(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function fieldOk(v: unknown, type: Field): boolean {
  if (type === "number") return typeof v === "number" && Number.isFinite(v);
  if (type === "pieces") return Array.isArray(v) && v.every((p) => Number.isSafeInteger(p));
  return type === "string" ? typeof v === "string" : typeof v === "boolean";
}

/** Checks an op received on the link; throws {@linkcode MergeMessageError}. */
export function parseOp(v: unknown): Op {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new MergeMessageError("Merge entry without an op object");
  }
  const op = v as Record<string, unknown>;
  const kind = op.kind;
  if (typeof kind !== "string" || !Object.hasOwn(OP_FIELDS, kind)) {
    throw new MergeMessageError(`Merge entry with unknown op kind ${String(kind).slice(0, 40)}`);
  }
  for (const [name, type] of Object.entries(OP_FIELDS[kind as Op["kind"]])) {
    if (!fieldOk(op[name], type)) {
      throw new MergeMessageError(`Merge entry ${kind} with a malformed field ${name}`);
    }
  }
  if (kind === "conflict" && op.reqId !== undefined && typeof op.reqId !== "string") {
    throw new MergeMessageError("Merge entry conflict with a malformed field reqId");
  }
  return op as unknown as Op;
}

/** Checks the entries of a `merge` message; throws {@linkcode MergeMessageError}. */
export function parseTail(v: unknown): LogEntry[] {
  if (!Array.isArray(v)) throw new MergeMessageError("Merge message without an entries array");
  return v.map((x) => {
    if (typeof x !== "object" || x === null) {
      throw new MergeMessageError("Merge entry not an object");
    }
    const { index, epoch, reqId, op } = x as Record<string, unknown>;
    if (!isIndex(index) || index === 0 || !isIndex(epoch)) {
      throw new MergeMessageError("Merge entry with a malformed index or epoch");
    }
    if (reqId !== undefined && (typeof reqId !== "string" || reqId.length > 128)) {
      throw new MergeMessageError("Merge entry with a malformed request id");
    }
    const e: LogEntry = { index, epoch, op: parseOp(op) };
    if (reqId !== undefined) e.reqId = reqId;
    return e;
  });
}

/**
 * Checks the epoch runs of a `sync` message (absent from older trackers:
 * undefined). Runs must start at increasing indexes within the sender's last
 * index `last`.
 */
export function parseRuns(v: unknown, last: number): EpochRuns | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length > MAX_RUNS) {
    throw new MergeMessageError("Sync message with malformed epoch runs");
  }
  let prev = 0;
  for (const r of v) {
    if (
      !Array.isArray(r) || r.length !== 2 || !isIndex(r[0]) || !isIndex(r[1]) || r[0] <= prev ||
      r[0] > last
    ) {
      throw new MergeMessageError("Sync message with malformed epoch runs");
    }
    prev = r[0];
  }
  return v as EpochRuns;
}
