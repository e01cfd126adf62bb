/**
 * Test support for the tracker's pure core: drives a {@linkcode TrackerState}
 * the way the primary does (propose, then apply the op as the next log entry)
 * with a fixed {@linkcode ProposeEnv}, so tests see exactly what a client sees.
 */
import assert from "node:assert/strict";
import { propose, type ProposeEnv, query } from "./commands.ts";
import type { LogEntry, Op, Result } from "./ops.ts";
import { TrackerState } from "./state.ts";

/** The stored credentials every test user gets. */
export const CREDENTIALS = { salt: "5a175a17", hash: "aa".repeat(32), iterations: 1 };
/** A login hash that does not match {@linkcode CREDENTIALS}: a wrong password. */
export const WRONG_HASH = "bb".repeat(32);
/** The clock of the first proposal; every later one is a millisecond later. */
export const T0 = 1_700_000_000_000;
/** The smallest accepted piece size. */
export const PIECE = 16 * 1024;

/** Arguments of a valid share_file of `pieces` pieces; `variant` changes the content. */
export function fileArgs(
  group: string,
  name: string,
  opts: { pieces?: number; variant?: number } = {},
): Record<string, unknown> {
  const n = opts.pieces ?? 3;
  const v = opts.variant ?? 0;
  return {
    group,
    name,
    size: n === 0 ? 0 : (n - 1) * PIECE + 100,
    pieceSize: PIECE,
    pieces: Array.from({ length: n }, (_, i) => (i + v).toString(16).padStart(40, "0")).join(""),
    sha1: (0xabc + v).toString(16).padStart(40, "0"),
  };
}

/** A tracker state with a client's view of it. */
export class Harness {
  state = new TrackerState();
  /** Every entry applied so far, in order. */
  readonly entries: LogEntry[] = [];
  /** The result of each entry in {@linkcode Harness.entries}. */
  readonly results: Result[] = [];
  #seq = 0;

  /** Proposes a write with the fixed env; an accepted op is applied as the next entry. */
  write(
    cmd: string,
    args: Record<string, unknown> = {},
    token?: string,
    env: Partial<ProposeEnv> = {},
  ): Result {
    const n = ++this.#seq;
    const full: ProposeEnv = {
      now: T0 + n,
      token: `token-${n}`,
      credentials: CREDENTIALS,
      loginHash: CREDENTIALS.hash,
      ...env,
    };
    const p = propose(this.state, { cmd, args, token }, full);
    if ("result" in p) return p.result;
    return this.applyOp(p.op, `req-${n}`);
  }

  /** Applies an op as the next log entry, bypassing propose. */
  applyOp(op: Op, reqId?: string): Result {
    const entry: LogEntry = { index: this.state.index + 1, epoch: 1, op };
    if (reqId !== undefined) entry.reqId = reqId;
    this.entries.push(entry);
    const result = this.state.apply(entry);
    this.results.push(result);
    return result;
  }

  /** Answers a read command. */
  read(cmd: string, args: Record<string, unknown> = {}, token?: string): Result {
    return query(this.state, { cmd, args, token });
  }

  /** Asserts that a write succeeds and returns its data. */
  ok(cmd: string, args: Record<string, unknown> = {}, token?: string): Record<string, unknown> {
    return okData(this.write(cmd, args, token));
  }

  /** Asserts that a write fails with `error` and leaves the log and state untouched. */
  fails(cmd: string, args: Record<string, unknown>, token: string | undefined, error: string) {
    const before = JSON.stringify(this.state.toSnapshot());
    assert.deepEqual(this.write(cmd, args, token), { ok: false, error });
    assert.equal(JSON.stringify(this.state.toSnapshot()), before, `${cmd} changed the state`);
  }

  /** Creates `user`, logs in from `addr` and returns the session token. */
  signIn(user: string, addr = `10.0.0.${this.#seq + 1}:7000`): string {
    if (!this.state.users.has(user)) this.ok("create_user", { user });
    return okData(this.write("login", { user, addr })).token as string;
  }

  /** Creates `group` owned by `owner` with `members` accepted in order. */
  group(group: string, owner: string, members: Record<string, string> = {}): void {
    this.ok("create_group", { group }, owner);
    for (const token of Object.values(members)) {
      this.ok("join_group", { group }, token);
      const who = this.state.session(token)!.user;
      this.ok("accept_request", { group, user: who }, owner);
    }
  }
}

/** Asserts that a result is a success and returns its data. */
export function okData(r: Result): Record<string, unknown> {
  if (!r.ok) assert.fail(`expected success, got error: ${r.error}`);
  return r.data;
}
