/**
 * Whether a write still holds against a state: the check a partition merge
 * runs before it re-applies a write of the other side. A pure function of the
 * state and the op (no socket, no clock). It refuses everything
 * {@linkcode TrackerState.apply} would fail, and also what only the proposal
 * checked (a piece report from a user who is no longer a member).
 */
import { MAX_FILE_SIZE, MAX_PIECE_SIZE, MIN_PIECE_SIZE } from "./commands.ts";
import type { Op } from "./ops.ts";
import { pieceCount, type TrackerState } from "./state.ts";

/**
 * What the merge knows beyond the state: users and groups that the other side
 * created under an id this side had already given to someone else. A write by
 * or about such a user or group meant the other account or group, so it is
 * refused even when the id exists here.
 */
export interface CheckContext {
  foreignUsers?: ReadonlySet<string>;
  foreignGroups?: ReadonlySet<string>;
}

/** Why `op` no longer holds on `state`, or null when applying it succeeds. */
export function check(state: TrackerState, op: Op, ctx: CheckContext = {}): string | null {
  for (const u of actingUsers(state, op)) {
    if (ctx.foreignUsers?.has(u)) return `user ${u} is another account on this side`;
  }
  if ("group" in op && ctx.foreignGroups?.has(op.group)) {
    return `group ${op.group} is another group on this side`;
  }
  switch (op.kind) {
    case "create_user":
      return state.users.has(op.user) ? `user ${op.user} already exists` : null;
    case "login":
      return checkLogin(state, op);
    case "logout":
    case "set_serving":
      return state.sessions.has(op.token) ? null : "not logged in";
    case "create_group":
      if (!state.users.has(op.user)) return `no user ${op.user}`;
      return state.groups.has(op.group) ? `group ${op.group} already exists` : null;
    case "join_group": {
      if (!state.users.has(op.user)) return `no user ${op.user}`;
      const g = state.groups.get(op.group);
      if (!g) return `no group ${op.group}`;
      if (g.members.includes(op.user)) return `already a member of group ${op.group}`;
      if (g.pending.includes(op.user)) {
        return `join request for group ${op.group} is already pending`;
      }
      return null;
    }
    case "leave_group":
      return memberOf(state, op.user, op.group);
    case "accept_request":
    case "reject_request": {
      const g = state.groups.get(op.group);
      if (!g) return `no group ${op.group}`;
      if (g.owner !== op.user) return `not the owner of group ${op.group}`;
      if (!g.pending.includes(op.member)) {
        return `no join request from ${op.member} in group ${op.group}`;
      }
      return null;
    }
    case "share_file": {
      const err = memberOf(state, op.user, op.group) ?? fileShape(op);
      if (err) return err;
      const f = state.file(op.group, op.name);
      if (
        f && (f.sha1 !== op.sha1 || f.size !== op.size || f.pieceSize !== op.pieceSize ||
          f.pieces !== op.pieces)
      ) {
        return `a different file named ${op.name} is already shared in group ${op.group}`;
      }
      return null;
    }
    case "stop_share": {
      const err = memberOf(state, op.user, op.group);
      if (err) return err;
      return state.file(op.group, op.name)?.sources.has(op.user)
        ? null
        : `you do not share ${op.name} in group ${op.group}`;
    }
    case "report_pieces": {
      const err = memberOf(state, op.user, op.group);
      if (err) return err;
      const f = state.file(op.group, op.name);
      if (!f) return `no file ${op.name} in group ${op.group}`;
      const n = pieceCount(f.size, f.pieceSize);
      const valid = Array.isArray(op.pieces) && op.pieces.length > 0 &&
        op.pieces.every((p) => Number.isInteger(p) && p >= 0 && p < n);
      return valid ? null : `piece numbers outside 0 to ${n - 1}`;
    }
    case "set_grant_key":
    case "epoch":
    case "conflict":
      return null;
  }
}

/**
 * A login re-applied after a partition would end the sessions it replaces:
 * the user's own and whoever is logged in at the same peer address. It is
 * refused when one of those began later than it (a later login wins).
 */
function checkLogin(state: TrackerState, op: Extract<Op, { kind: "login" }>): string | null {
  if (!state.users.has(op.user)) return `no user ${op.user}`;
  for (const s of state.sessions.values()) {
    if ((s.user === op.user || s.addr === op.addr) && s.at > op.at) {
      return s.user === op.user
        ? `${op.user} logged in again later`
        : `${s.user} logged in later at ${op.addr}`;
    }
  }
  return null;
}

/** What the proposal checked of a file's description (a bad one would corrupt the registry). */
function fileShape(op: Extract<Op, { kind: "share_file" }>): string | null {
  const { size, pieceSize } = op;
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_FILE_SIZE) return "bad file size";
  if (
    !Number.isSafeInteger(pieceSize) || pieceSize < MIN_PIECE_SIZE || pieceSize > MAX_PIECE_SIZE ||
    (pieceSize & (pieceSize - 1)) !== 0
  ) {
    return "bad piece size";
  }
  if (!/^[0-9a-f]{40}$/.test(op.sha1)) return "bad file digest";
  const n = pieceCount(size, pieceSize);
  if (op.pieces.length !== n * 40 || !/^[0-9a-f]*$/.test(op.pieces)) return "bad piece digests";
  return null;
}

function memberOf(state: TrackerState, user: string, group: string): string | null {
  const g = state.groups.get(group);
  if (!g) return `no group ${group}`;
  return g.members.includes(user) ? null : `not a member of group ${group}`;
}

/** The users an op acts as or on (for a token, the session's user when it still exists). */
function actingUsers(state: TrackerState, op: Op): string[] {
  switch (op.kind) {
    case "accept_request":
    case "reject_request":
      return [op.user, op.member];
    case "logout":
    case "set_serving": {
      const s = state.sessions.get(op.token);
      return s ? [s.user] : [];
    }
    case "set_grant_key":
    case "epoch":
    case "conflict":
      return [];
    default:
      return [op.user];
  }
}

/**
 * A one-line description of an op without its secrets (no password hash,
 * salt, token or grant key): `create_user alice`, `join_group g (bob)`.
 */
export function summarize(op: Op, state?: TrackerState): string {
  switch (op.kind) {
    case "create_user":
      return `create_user ${op.user}`;
    case "login":
      return `login ${op.user}`;
    case "logout":
    case "set_serving": {
      const user = state?.sessions.get(op.token)?.user;
      const what = op.kind === "set_serving" ? `set_serving ${op.serving}` : "logout";
      return user ? `${what} (${user})` : `${what} (a session that no longer exists)`;
    }
    case "create_group":
    case "join_group":
    case "leave_group":
      return `${op.kind} ${op.group} (${op.user})`;
    case "accept_request":
    case "reject_request":
      return `${op.kind} ${op.member} in ${op.group} (${op.user})`;
    case "share_file":
    case "stop_share":
    case "report_pieces":
      return `${op.kind} ${op.name} in ${op.group} (${op.user})`;
    case "set_grant_key":
      return "set_grant_key";
    case "epoch":
      return `epoch ${op.epoch}`;
    case "conflict":
      return `conflict: ${op.summary}`;
  }
}
