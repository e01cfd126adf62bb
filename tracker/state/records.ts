/**
 * The records the tracker state holds (users, sessions, groups, shared files
 * and their sources) and the JSON shape of a whole-state snapshot.
 */
import type { ConflictOp, FileMeta, Result } from "./ops.ts";

/** A write refused when the logs of a partition were merged (a `conflict` op without its kind). */
export type Conflict = Omit<ConflictOp, "kind">;

/** A registered user. */
export interface User {
  id: string;
  salt: string;
  hash: string;
  iterations: number;
  created: number;
}

/** A logged-in user and the address of their peer. */
export interface Session {
  token: string;
  user: string;
  addr: string;
  at: number;
  /**
   * Where in the log the login was applied (epoch and index), so that its
   * identity certificate is the same whoever issues it and whenever.
   */
  ep?: number;
  idx?: number;
  /**
   * True while the peer is stopped but keeps its session (it quit without
   * logging out): its offers stay registered but lookups leave it out.
   */
  away?: boolean;
}

/** A group: owner, members in join order, pending join requests in request order. */
export interface Group {
  id: string;
  owner: string;
  members: string[];
  pending: string[];
  created: number;
}

/** A peer's copy of a shared file: which pieces it has. */
export interface Source {
  user: string;
  have: Uint8Array;
  count: number;
}

/** A file shared in a group. */
export interface SharedFile extends FileMeta {
  created: number;
  sources: Map<string, Source>;
}

/** A JSON-serialisable copy of the whole state. */
export interface StateSnapshot {
  index: number;
  epoch: number;
  users: User[];
  sessions: Session[];
  groups: Group[];
  files: (FileMeta & { created: number; sources: { user: string; have: string }[] })[];
  grantKey: { privateKey: string; publicKey: string } | null;
  dedup: [string, Result][];
  /** Latest merge conflicts, oldest first (missing in snapshots written before merges existed). */
  conflicts?: Conflict[];
}
