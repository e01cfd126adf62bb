/**
 * The client protocol: peers (and the benchmark and test clients) talking to
 * a tracker, over JSON control frames (shared/frame.ts). Both sides import
 * these types; {@linkcode decodeClientMessage} is the one decoder, used at
 * every edge where such a message arrives.
 *
 * → {t:"req", id, cmd, args, token?}            a command (pipelined, matched by id)
 * ← {t:"res", id, ok:true, data}                its answer
 * ← {t:"res", id, ok:false, error, code?, primary?}   its refusal (`code` for
 *   not_primary and unavailable, with the primary's address as a hint)
 * ↔ {t:"error", error}                          bad input; the sender closes or ignores it
 *
 * A `watch` is a request like any other that the tracker holds open; the data
 * of the answers a peer reads is decoded in client_answers.ts.
 */
import type { Message } from "../frame.ts";
import { BadMessage, type ErrorNotice, unexpectedType } from "./bad_message.ts";
import { FieldReader, isObject } from "./_fields.ts";

export type { ErrorNotice };

/** The longest request id a tracker takes. */
export const MAX_REQUEST_ID = 128;
/** The refusal of a request without a usable id. */
export const BAD_REQUEST_ID = `request id must be a string of 1-${MAX_REQUEST_ID} characters`;
/** The refusal of a request whose fields have the wrong kinds. */
export const MALFORMED_REQUEST =
  "malformed request: needs cmd (string), args (object), token (string)";

/** A client's command. `token` is the session token once logged in. */
export type ClientRequest = {
  t: "req";
  id: string;
  cmd: string;
  args: Record<string, unknown>;
  token?: string;
};

/** A tracker's answer to a command it carried out. */
export type OkResponse = { t: "res"; id: string; ok: true; data: Record<string, unknown> };

/**
 * A tracker's refusal. `id` is null when the request had no usable id;
 * `code` is set for refusals about the tracker rather than the command
 * (`not_primary`, with `primary` naming the other tracker, or `unavailable`).
 */
export type FailResponse = {
  t: "res";
  id: string | null;
  ok: false;
  error: string;
  code?: string;
  primary?: string;
};

/** A tracker's answer to a request. */
export type ClientResponse = OkResponse | FailResponse;

/** Any message of the client protocol. */
export type ClientMessage = ClientRequest | ClientResponse | ErrorNotice;

/** A `req` message that cannot be carried out; `id` names it in the refusal when it can. */
export class BadRequest extends BadMessage {
  /** The request's id, or null when it had no usable one. */
  readonly id: string | null;

  constructor(id: string | null, message: string) {
    super("req", message);
    this.name = "BadRequest";
    this.id = id;
  }
}

/**
 * Checks a control message of the client protocol and returns it typed.
 * Throws {@linkcode BadRequest} for a malformed request and
 * {@linkcode BadMessage} for anything else that is not a client message.
 */
export function decodeClientMessage(msg: Message): ClientMessage {
  switch (msg.t) {
    case "req":
      return decodeRequest(msg);
    case "res":
      return decodeResponse(msg);
    case "error":
      return { t: "error", error: new FieldReader("error", "error", msg).str("error") };
    default:
      throw new BadMessage(msg.t, unexpectedType(msg.t));
  }
}

function decodeRequest(msg: Message): ClientRequest {
  const { id, cmd, token } = msg;
  if (typeof id !== "string" || id.length === 0 || id.length > MAX_REQUEST_ID) {
    throw new BadRequest(null, BAD_REQUEST_ID);
  }
  // A missing or null args is an empty one.
  const args = msg.args ?? {};
  if (
    typeof cmd !== "string" || !isObject(args) || (token !== undefined && typeof token !== "string")
  ) {
    throw new BadRequest(id, MALFORMED_REQUEST);
  }
  return requestMessage(id, cmd, args, token);
}

function decodeResponse(msg: Message): ClientResponse {
  const f = new FieldReader("res", "res", msg);
  const { id } = msg;
  if (id !== null && typeof id !== "string") throw f.bad("id (string or null)");
  if (msg.ok === true) {
    if (id === null) throw f.bad("id (string) when ok");
    return okResponse(id, f.check("data", isObject, "data (object)"));
  }
  if (msg.ok !== false) throw f.bad("ok (boolean)");
  const code = f.optStr("code");
  const primary = f.optStr("primary");
  return failResponse(id, f.str("error"), { code, primary });
}

/** Builds a request; `token` is left out when undefined. */
export function requestMessage(
  id: string,
  cmd: string,
  args: Record<string, unknown>,
  token?: string,
): ClientRequest {
  const req: ClientRequest = { t: "req", id, cmd, args };
  if (token !== undefined) req.token = token;
  return req;
}

/** Builds the answer to request `id`. */
export function okResponse(id: string, data: Record<string, unknown>): OkResponse {
  return { t: "res", id, ok: true, data };
}

/** Builds a refusal of request `id`; `code` and `primary` are left out when undefined. */
export function failResponse(
  id: string | null,
  error: string,
  extra: { code?: string; primary?: string } = {},
): FailResponse {
  const res: FailResponse = { t: "res", id, ok: false, error };
  if (extra.code !== undefined) res.code = extra.code;
  if (extra.primary !== undefined) res.primary = extra.primary;
  return res;
}
