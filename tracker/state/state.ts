/**
 * The tracker's state: users, sessions, groups and the file registry. A pure
 * state machine: {@linkcode TrackerState.apply} takes a log entry and returns
 * its result; nothing here touches a socket, a clock or a random source.
 */
import { fail, type LogEntry, ok, type Op, type Result } from "./ops.ts";
import type {
  Conflict,
  Group,
  Session,
  SharedFile,
  Source,
  StateSnapshot,
  User,
} from "./records.ts";
import { decodeBase64, encodeBase64 } from "../../shared/base64.ts";
import { countBits, emptyBitfield, fullBitfield, hasBit, setBit } from "../../shared/bitfield.ts";

export type { Conflict, Group, Session, SharedFile, Source, StateSnapshot, User };

/** How many request ids are remembered for exactly-once retries. */
export const DEDUP_LIMIT = 50_000;
/** How many merge conflicts the state keeps (the latest). */
export const CONFLICT_LIMIT = 100;

/** Number of pieces of a file of `size` bytes cut into `pieceSize` pieces. */
export function pieceCount(size: number, pieceSize: number): number {
  return Math.ceil(size / pieceSize);
}

function fileKey(group: string, name: string): string {
  return `${group}\u0000${name}`;
}

/** The tracker's replicated state. */
export class TrackerState {
  /** Index of the last applied log entry. */
  index = 0;
  /** Epoch of the last applied log entry. */
  epoch = 0;
  readonly users = new Map<string, User>();
  readonly sessions = new Map<string, Session>();
  readonly sessionByUser = new Map<string, string>();
  readonly groups = new Map<string, Group>();
  readonly files = new Map<string, SharedFile>();
  grantKey: { privateKey: string; publicKey: string } | null = null;
  /** The latest {@linkcode CONFLICT_LIMIT} merge conflicts, oldest first. */
  readonly conflicts: Conflict[] = [];
  readonly #dedup = new Map<string, Result>();

  /** Rebuilds a state from {@linkcode TrackerState.toSnapshot} output. */
  static fromSnapshot(snap: StateSnapshot): TrackerState {
    const s = new TrackerState();
    s.index = snap.index;
    s.epoch = snap.epoch;
    for (const u of snap.users) s.users.set(u.id, { ...u });
    for (const x of snap.sessions) {
      s.sessions.set(x.token, { ...x });
      s.sessionByUser.set(x.user, x.token);
    }
    for (const g of snap.groups) {
      s.groups.set(g.id, { ...g, members: [...g.members], pending: [...g.pending] });
    }
    for (const f of snap.files) {
      const sources = new Map<string, Source>();
      for (const src of f.sources) {
        const have = decodeBase64(src.have);
        sources.set(src.user, {
          user: src.user,
          have,
          count: countBits(have, pieceCount(f.size, f.pieceSize)),
        });
      }
      s.files.set(fileKey(f.group, f.name), { ...f, sources });
    }
    s.grantKey = snap.grantKey;
    for (const [id, r] of snap.dedup) s.#dedup.set(id, r);
    for (const c of snap.conflicts ?? []) s.conflicts.push({ ...c });
    return s;
  }

  /** Returns a JSON-serialisable copy of the whole state. */
  toSnapshot(): StateSnapshot {
    return {
      index: this.index,
      epoch: this.epoch,
      users: [...this.users.values()].map((u) => ({ ...u })),
      sessions: [...this.sessions.values()].map((x) => ({ ...x })),
      groups: [...this.groups.values()].map((g) => ({
        ...g,
        members: [...g.members],
        pending: [...g.pending],
      })),
      files: [...this.files.values()].map((f) => ({
        group: f.group,
        name: f.name,
        size: f.size,
        pieceSize: f.pieceSize,
        pieces: f.pieces,
        sha1: f.sha1,
        created: f.created,
        sources: [...f.sources.values()].map((src) => ({
          user: src.user,
          have: encodeBase64(src.have),
        })),
      })),
      grantKey: this.grantKey,
      dedup: [...this.#dedup.entries()],
      conflicts: this.conflicts.map((c) => ({ ...c })),
    };
  }

  /** The stored result of an already applied request, if it is remembered. */
  dedup(reqId: string): Result | undefined {
    return this.#dedup.get(reqId);
  }

  /** The session of a token, if it is valid. */
  session(token: string | undefined): Session | undefined {
    return token === undefined ? undefined : this.sessions.get(token);
  }

  /** The session of `user` if they are logged in and their peer is serving. */
  serving(user: string): Session | undefined {
    const token = this.sessionByUser.get(user);
    const s = token === undefined ? undefined : this.sessions.get(token);
    return s && !s.away ? s : undefined;
  }

  /** Looks up a shared file. */
  file(group: string, name: string): SharedFile | undefined {
    return this.files.get(fileKey(group, name));
  }

  /**
   * Applies one log entry. Entries must come in index order; the op was
   * validated when it was proposed, but apply re-checks what it relies on so
   * that a bad op fails the same way on both trackers instead of corrupting.
   */
  apply(entry: LogEntry): Result {
    if (entry.index !== this.index + 1) {
      throw new Error(`Log entry ${entry.index} applied after ${this.index}`);
    }
    const result = this.#applyOp(entry.op);
    this.index = entry.index;
    this.epoch = entry.epoch;
    const session = entry.op.kind === "login" ? this.sessions.get(entry.op.token) : undefined;
    if (session) Object.assign(session, { ep: entry.epoch, idx: entry.index });
    if (entry.reqId !== undefined) {
      this.#dedup.set(entry.reqId, result);
      if (this.#dedup.size > DEDUP_LIMIT) {
        const oldest = this.#dedup.keys().next().value;
        if (oldest !== undefined) this.#dedup.delete(oldest);
      }
    }
    return result;
  }

  #applyOp(op: Op): Result {
    switch (op.kind) {
      case "create_user":
        if (this.users.has(op.user)) return fail(`user ${op.user} already exists`);
        this.users.set(op.user, {
          id: op.user,
          salt: op.salt,
          hash: op.hash,
          iterations: op.iterations,
          created: op.at,
        });
        return ok({ user: op.user });
      case "login":
        return this.#login(op);
      case "logout": {
        const session = this.sessions.get(op.token);
        if (!session) return fail("not logged in");
        this.#endSession(session);
        return ok({ user: session.user });
      }
      case "set_serving": {
        const session = this.sessions.get(op.token);
        if (!session) return fail("not logged in");
        if (op.serving) delete session.away;
        else session.away = true;
        return ok({ user: session.user, serving: op.serving });
      }
      case "create_group":
        if (this.groups.has(op.group)) return fail(`group ${op.group} already exists`);
        this.groups.set(op.group, {
          id: op.group,
          owner: op.user,
          members: [op.user],
          pending: [],
          created: op.at,
        });
        return ok({ group: op.group, owner: op.user });
      case "join_group": {
        const g = this.groups.get(op.group);
        if (!g) return fail(`no group ${op.group}`);
        if (g.members.includes(op.user)) return fail(`already a member of group ${op.group}`);
        if (g.pending.includes(op.user)) {
          return fail(`join request for group ${op.group} is already pending`);
        }
        g.pending.push(op.user);
        return ok({ group: op.group, owner: g.owner });
      }
      case "leave_group":
        return this.#leave(op.user, op.group);
      case "accept_request":
      case "reject_request": {
        const g = this.groups.get(op.group);
        if (!g) return fail(`no group ${op.group}`);
        if (g.owner !== op.user) return fail(`not the owner of group ${op.group}`);
        const i = g.pending.indexOf(op.member);
        if (i < 0) return fail(`no join request from ${op.member} in group ${op.group}`);
        g.pending.splice(i, 1);
        if (op.kind === "accept_request") g.members.push(op.member);
        return ok({ group: op.group, user: op.member });
      }
      case "share_file":
        return this.#share(op);
      case "stop_share": {
        const f = this.file(op.group, op.name);
        if (!f || !f.sources.has(op.user)) {
          return fail(`you do not share ${op.name} in group ${op.group}`);
        }
        this.#dropSource(f, op.user);
        return ok({
          group: op.group,
          name: op.name,
          removed: !this.files.has(fileKey(f.group, f.name)),
        });
      }
      case "report_pieces": {
        const f = this.file(op.group, op.name);
        if (!f) return fail(`no file ${op.name} in group ${op.group}`);
        const n = pieceCount(f.size, f.pieceSize);
        let src = f.sources.get(op.user);
        if (!src && op.pieces.length === 0) return ok({ have: 0, of: n });
        if (!src) {
          src = { user: op.user, have: emptyBitfield(n), count: 0 };
          f.sources.set(op.user, src);
        }
        for (const p of op.pieces) {
          if (!Number.isInteger(p) || p < 0 || p >= n) continue;
          if (!hasBit(src.have, p)) {
            setBit(src.have, p);
            src.count++;
          }
        }
        return ok({ have: src.count, of: n });
      }
      case "set_grant_key":
        this.grantKey = { privateKey: op.privateKey, publicKey: op.publicKey };
        return ok();
      case "epoch":
        return ok({ epoch: op.epoch });
      case "conflict": {
        const { kind: _, ...conflict } = op;
        this.conflicts.push(conflict);
        if (this.conflicts.length > CONFLICT_LIMIT) this.conflicts.shift();
        return fail(op.reason);
      }
    }
  }

  #login(op: Extract<Op, { kind: "login" }>): Result {
    if (!this.users.has(op.user)) return fail(`no user ${op.user}`);
    const oldToken = this.sessionByUser.get(op.user);
    const old = oldToken === undefined ? undefined : this.sessions.get(oldToken);
    if (old) {
      this.sessions.delete(old.token);
      this.sessionByUser.delete(op.user);
      // The user's files were offered from the old address: they move with it only if it is the same peer.
      if (old.addr !== op.addr) this.#dropAllSources(op.user);
    }
    // One user per peer address: whoever was logged in there is logged out.
    for (const other of [...this.sessions.values()]) {
      if (other.addr === op.addr) this.#endSession(other);
    }
    this.sessions.set(op.token, { token: op.token, user: op.user, addr: op.addr, at: op.at });
    this.sessionByUser.set(op.user, op.token);
    return ok({ user: op.user, token: op.token });
  }

  #endSession(session: Session): void {
    this.sessions.delete(session.token);
    this.sessionByUser.delete(session.user);
    this.#dropAllSources(session.user);
  }

  #leave(user: string, group: string): Result {
    const g = this.groups.get(group);
    if (!g) return fail(`no group ${group}`);
    const i = g.members.indexOf(user);
    if (i < 0) return fail(`not a member of group ${group}`);
    g.members.splice(i, 1);
    for (const f of [...this.files.values()]) {
      if (f.group === group && f.sources.has(user)) this.#dropSource(f, user);
    }
    if (g.members.length === 0) {
      this.groups.delete(group);
      for (const f of [...this.files.values()]) {
        if (f.group === group) this.files.delete(fileKey(f.group, f.name));
      }
      return ok({ group, deleted: true });
    }
    if (g.owner === user) g.owner = g.members[0]!;
    return ok({ group, owner: g.owner, deleted: false });
  }

  #share(op: Extract<Op, { kind: "share_file" }>): Result {
    const g = this.groups.get(op.group);
    if (!g) return fail(`no group ${op.group}`);
    if (!g.members.includes(op.user)) return fail(`not a member of group ${op.group}`);
    const key = fileKey(op.group, op.name);
    let f = this.files.get(key);
    if (
      f &&
      (f.sha1 !== op.sha1 || f.size !== op.size || f.pieceSize !== op.pieceSize ||
        f.pieces !== op.pieces)
    ) {
      return fail(`a different file named ${op.name} is already shared in group ${op.group}`);
    }
    if (!f) {
      f = {
        group: op.group,
        name: op.name,
        size: op.size,
        pieceSize: op.pieceSize,
        pieces: op.pieces,
        sha1: op.sha1,
        created: op.at,
        sources: new Map(),
      };
      this.files.set(key, f);
    }
    const n = pieceCount(f.size, f.pieceSize);
    const have = fullBitfield(n);
    const isNew = !f.sources.has(op.user);
    f.sources.set(op.user, { user: op.user, have, count: n });
    return ok({ group: op.group, name: op.name, sha1: f.sha1, pieces: n, newSource: isNew });
  }

  #dropSource(f: SharedFile, user: string): void {
    f.sources.delete(user);
    if (f.sources.size === 0) this.files.delete(fileKey(f.group, f.name));
  }

  #dropAllSources(user: string): void {
    for (const f of [...this.files.values()]) {
      if (f.sources.has(user)) this.#dropSource(f, user);
    }
  }
}
