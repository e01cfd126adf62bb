/**
 * The JSON API: every command of the command layer (the shell's), the
 * peer's state, and its live events. Answers are JSON; a failure is
 * `{ok: false, error, code}` with a status for its kind.
 *
 *   GET  /api/state          who is logged in, the downloads, the shares
 *   GET  /api/commands       the commands and their parameters
 *   GET  /api/events         Server-Sent Events: `state` and `notice`
 *   POST /api/<command>      runs it; arguments by name ({"group_id": "g1"}) or {"args": [...]}
 */
import { describeError } from "../../shared/errors.ts";
import { log } from "../../shared/log.ts";
import {
  CommandError,
  commandList,
  COMMANDS,
  type Ctx,
  type Data,
  type FailureKind,
  paramName,
  runCommand,
} from "../commands/mod.ts";
import type { EventHub } from "./events.ts";

const logger = log("peer", "web");

/** The largest request body the API reads. */
export const MAX_BODY = 64 * 1024;

/** The status of each kind of failure. */
export const STATUS: Record<FailureKind, number> = {
  usage: 400,
  login: 403,
  unknown: 404,
  refused: 409,
  unavailable: 503,
};

/** What the API runs with. */
export interface ApiDeps {
  ctx: Ctx;
  events: EventHub;
}

/** The peer's state: `GET /api/state`'s answer and each `state` event. */
export function peerState(ctx: Ctx): Data {
  const user = ctx.user;
  const files = ctx.files;
  return {
    user,
    addr: ctx.addr,
    downloads: files ? files.downloads.list() : [],
    shares: files && user !== null
      ? files.db.shares(user).map((s) => ({
        group: s.group,
        name: s.name,
        size: s.size,
        sha1: s.sha1,
        path: s.path,
      }))
      : [],
  };
}

/** Answers a request under `/api/` (the guard has let it through). */
export async function handleApi(req: Request, deps: ApiDeps): Promise<Response> {
  const path = new URL(req.url).pathname.slice("/api/".length);
  if (req.method === "GET") {
    if (path === "state") return json(200, { ok: true, ...peerState(deps.ctx) });
    if (path === "commands") return json(200, { ok: true, commands: commandList() });
    if (path === "events") {
      if (deps.events.full) return fail(503, "too many pages are listening", "unavailable");
      return new Response(deps.events.stream(), {
        headers: {
          "content-type": "text/event-stream; charset=utf-8",
          "cache-control": "no-store",
        },
      });
    }
  }
  if (!Object.hasOwn(COMMANDS, path) || !/^[a-z_]+$/.test(path)) {
    return fail(404, `no such API: ${req.method} /api/${path.slice(0, 40)}`, "unknown");
  }
  if (req.method !== "POST") {
    return fail(405, `${path} is run with POST`, "usage", { allow: "POST" });
  }
  let args: string[];
  try {
    args = argsOf(path, await readBody(req));
  } catch (err) {
    return fail(err instanceof TooLarge ? 413 : 400, describeError(err), "usage");
  }
  try {
    const out = await runCommand(deps.ctx, path, args);
    return json(200, { ok: true, lines: out.lines, ...out.data });
  } catch (err) {
    const e = err instanceof CommandError ? err : new CommandError(describeError(err));
    if (e.kind === "refused" || e.kind === "unavailable") {
      logger.debug("{cmd} refused: {error}", { cmd: path, error: e.message });
    }
    return fail(STATUS[e.kind], e.message, e.kind);
  } finally {
    deps.events.changed();
  }
}

class TooLarge extends Error {}

/** The request's JSON object (an empty body is `{}`). */
async function readBody(req: Request): Promise<Data> {
  const length = Number(req.headers.get("content-length") ?? "0");
  if (length > MAX_BODY) throw new TooLarge(`the body is larger than ${MAX_BODY} bytes`);
  const text = await req.text();
  if (text.length > MAX_BODY) throw new TooLarge(`the body is larger than ${MAX_BODY} bytes`);
  if (text.trim() === "") return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error("the body is not JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new Error("the body must be a JSON object");
  }
  return body as Data;
}

/** The command's arguments from `{"args": [...]}` or from fields named after its parameters. */
export function argsOf(name: string, body: Data): string[] {
  const cmd = COMMANDS[name]!;
  if (body.args !== undefined) {
    if (!Array.isArray(body.args) || !body.args.every((a) => typeof a === "string")) {
      throw new Error("args must be a list of strings");
    }
    return body.args as string[];
  }
  const args: string[] = [];
  for (const p of cmd.params) {
    const v = body[paramName(p)];
    if (v === undefined) break;
    if (typeof v !== "string") throw new Error(`${paramName(p)} must be a string`);
    args.push(v);
  }
  return args;
}

/** A JSON answer. */
export function json(status: number, body: Data, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-store",
      ...headers,
    },
  });
}

/** A JSON failure. */
export function fail(
  status: number,
  error: string,
  code: FailureKind | "secret" | "origin",
  headers: Record<string, string> = {},
): Response {
  return json(status, { ok: false, error, code }, headers);
}
