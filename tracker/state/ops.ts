/**
 * The tracker's replicated operations and command results. An op is a fully
 * decided state change: every token, salt, hash and timestamp it needs was
 * produced before it was written, so applying the same ops in the same order
 * yields the same state on both trackers.
 */
import type { FileMeta } from "../../shared/protocol/client_answers.ts";

/** What describes a shared file (the arguments of `share_file`): group, name, size, hashes. */
export type { FileMeta };

/** The answer to a client command. */
export type Result =
  | { ok: true; data: Record<string, unknown> }
  | { ok: false; error: string };

/** A state change, as carried in the log and over the tracker link. */
export type Op =
  | {
    kind: "create_user";
    user: string;
    salt: string;
    hash: string;
    iterations: number;
    at: number;
  }
  | { kind: "login"; user: string; token: string; addr: string; at: number }
  | { kind: "logout"; token: string }
  | { kind: "set_serving"; token: string; serving: boolean }
  | { kind: "create_group"; user: string; group: string; at: number }
  | { kind: "join_group"; user: string; group: string }
  | { kind: "leave_group"; user: string; group: string }
  | { kind: "accept_request"; user: string; group: string; member: string }
  | { kind: "reject_request"; user: string; group: string; member: string }
  | ({ kind: "share_file"; user: string; at: number } & FileMeta)
  | { kind: "stop_share"; user: string; group: string; name: string }
  | { kind: "report_pieces"; user: string; group: string; name: string; pieces: number[] }
  | { kind: "set_grant_key"; privateKey: string; publicKey: string }
  | { kind: "epoch"; epoch: number; tracker: number }
  | ConflictOp;

/**
 * A write of the other side of a partition that no longer held when the two
 * logs were merged, recorded instead of it. It carries a summary of the
 * refused op, never its secrets (no password hash, salt or token).
 */
export interface ConflictOp {
  kind: "conflict";
  /** The tracker that had acknowledged the refused write alone. */
  from: number;
  /** The refused write's request id, when it had one. */
  reqId?: string;
  /** What was refused, e.g. `create_user alice`. */
  summary: string;
  /** Why, e.g. `user alice already exists`. */
  reason: string;
  /** When it was refused (Unix ms). */
  at: number;
}

/** Ops the trackers write themselves, never on behalf of a client. */
export const INTERNAL_OPS: ReadonlySet<Op["kind"]> = new Set([
  "epoch",
  "set_grant_key",
  "conflict",
]);

/** One entry of the replicated log. */
export interface LogEntry {
  /** Position in the log, from 1. */
  index: number;
  /** Epoch of the primary that wrote it. */
  epoch: number;
  /** The client's request id, so a re-sent request applies once. */
  reqId?: string;
  op: Op;
}

/** Builds a success result. */
export function ok(data: Record<string, unknown> = {}): Result {
  return { ok: true, data };
}

/** Builds a failure result. */
export function fail(error: string): Result {
  return { ok: false, error };
}
