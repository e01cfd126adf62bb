/**
 * The transfer protocol: a downloading peer fetching pieces from a serving
 * peer's piece server (peer/serve/piece_server.ts ← peer/download/transfer_worker.ts).
 * Both sides import these types; {@linkcode decodeTransferMessage} is the one
 * decoder of its control messages. Piece bytes travel in DATA frames
 * (shared/frame.ts), which are not decoded here and never copied for it.
 *
 * → {t:"hello", group, name, sha1, grant}  which file, and the trackers' grant for it
 * ← {t:"welcome", have}                    admitted; `have` is "all" or a base64 bitfield
 * → {t:"get", tag, piece}                  a piece (several may be outstanding)
 * ← DATA frame (tag, bytes)                the piece, under the request's tag
 * ← {t:"reject", tag, error}               that piece is not served (error CHOKED: not now)
 * ↔ {t:"error", error}                     refused or bad input; the sender closes
 */
import type { Message } from "../frame.ts";
import { BadMessage, type ErrorNotice, unexpectedType } from "./bad_message.ts";
import { FieldReader, isHaveText } from "./_fields.ts";

export type { ErrorNotice };

/**
 * The `reject` error of a serving peer whose upload slots are all taken
 * (peer/serve/upload_slots.ts): ask again soon, meanwhile fetch elsewhere.
 */
export const CHOKED = "choked: every upload slot is taken; ask again soon";

/** Why a hello was refused when it does not name a file. */
export const BAD_HELLO = "hello needs group, name and sha1";

/**
 * A downloader's first message. `grant` is the signed grant exactly as sent:
 * `verifyGrant` (shared/grant.ts) checks it and gives the reason it is refused.
 */
export type Hello = { t: "hello"; group: string; name: string; sha1: string; grant: unknown };

/** The server's admission: which pieces it has ("all", or a bitfield in base64). */
export type Welcome = { t: "welcome"; have: string };

/** A request for one piece; its DATA frame or reject carries the same `tag`. */
export type PieceRequest = { t: "get"; tag: number; piece: number };

/** A refusal to send one requested piece. */
export type PieceReject = { t: "reject"; tag: number; error: string };

/** Any control message of the transfer protocol. */
export type TransferMessage = Hello | Welcome | PieceRequest | PieceReject | ErrorNotice;

/**
 * Checks a control message of the transfer protocol and returns it typed;
 * throws {@linkcode BadMessage} for anything else (its `type` says which `t` it had).
 */
export function decodeTransferMessage(msg: Message): TransferMessage {
  const t = msg.t;
  const f = new FieldReader(t, typeof t === "string" ? t : "message", msg);
  switch (t) {
    case "hello": {
      const { group, name, sha1 } = msg;
      if (typeof group !== "string" || typeof name !== "string" || typeof sha1 !== "string") {
        throw new BadMessage(t, BAD_HELLO);
      }
      return { t, group, name, sha1, grant: msg.grant };
    }
    case "welcome":
      return { t, have: f.check("have", isHaveText, 'have ("all" or base64)') };
    case "get":
      return { t, tag: f.num("tag"), piece: f.int("piece") };
    case "reject":
      return { t, tag: f.num("tag"), error: f.str("error") };
    case "error":
      return { t, error: f.str("error") };
    default:
      throw new BadMessage(t, unexpectedType(t));
  }
}
