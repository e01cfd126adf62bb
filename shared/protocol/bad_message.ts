/**
 * What a decoder says about input that breaks a protocol ({@linkcode BadMessage}),
 * and the one message both protocols send before hanging up on bad input
 * ({@linkcode ErrorNotice}).
 */
import { ProtocolError } from "../errors.ts";

/** The longest part of a hostile `t` quoted back in an error message. */
const QUOTED_TYPE_MAX = 40;

/**
 * A control message that parsed as JSON but is not a message of its protocol:
 * an unknown type, or a known type with a missing or mistyped field. The
 * message is one line, fit to send back to the remote.
 */
export class BadMessage extends ProtocolError {
  /** The message's `t` as received (clipped), or "" when it had none. */
  readonly type: string;

  constructor(type: unknown, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BadMessage";
    this.type = typeof type === "string" ? type.slice(0, QUOTED_TYPE_MAX) : "";
  }
}

/** `{t:"error", error}`: why the sender is about to close the connection (either protocol). */
export type ErrorNotice = { t: "error"; error: string };

/** Builds an {@linkcode ErrorNotice}. */
export function errorNotice(error: string): ErrorNotice {
  return { t: "error", error };
}

/** The one-line text for a message whose type the receiver does not take. */
export function unexpectedType(t: unknown): string {
  const quoted = typeof t === "string" ? JSON.stringify(t).slice(0, QUOTED_TYPE_MAX) : "(none)";
  return `unexpected message type ${quoted}`;
}
