/**
 * Field checks shared by the protocol decoders (private to shared/protocol/).
 * Each failed check throws {@linkcode BadMessage} naming the message and the field.
 */
import { BadMessage } from "./bad_message.ts";

/** Standard base64 with padding, as `encodeBase64` writes it. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** True for a plain JSON object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** True for an integer that a double holds exactly. */
export function isSafeInt(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v);
}

/** True for what a peer says it has: "all", or a bitfield in base64. */
export function isHaveText(v: unknown): v is string {
  return typeof v === "string" && (v === "all" || BASE64.test(v));
}

/** True for lowercase hex digits, `length` of them when given. */
export function isHex(v: unknown, length?: number): v is string {
  return typeof v === "string" && (length === undefined || v.length === length) &&
    /^[0-9a-f]*$/.test(v);
}

/** Reads the fields of one message or answer, `what` naming it in errors. */
export class FieldReader {
  readonly #type: unknown;
  readonly #what: string;
  readonly #o: Record<string, unknown>;

  /** `type` is the `t` the error reports; `o` the object whose fields are read. */
  constructor(type: unknown, what: string, o: Record<string, unknown>) {
    this.#type = type;
    this.#what = what;
    this.#o = o;
  }

  /** The error for a field that is missing or of the wrong kind. */
  bad(need: string): BadMessage {
    return new BadMessage(this.#type, `${this.#what} needs ${need}`);
  }

  /** The field `key` if `test` holds for it; else fails with `need`. */
  check<T>(key: string, test: (v: unknown) => v is T, need: string): T {
    const v = this.#o[key];
    if (!test(v)) throw this.bad(need);
    return v;
  }

  /** A string field. */
  str(key: string): string {
    return this.check(key, (v): v is string => typeof v === "string", `${key} (string)`);
  }

  /** An optional string field. */
  optStr(key: string): string | undefined {
    const v = this.#o[key];
    return v === undefined ? undefined : this.str(key);
  }

  /** A number field (any finite number JSON can carry). */
  num(key: string): number {
    return this.check(key, (v): v is number => typeof v === "number", `${key} (number)`);
  }

  /** A safe-integer field of at least `min`. */
  int(key: string, min = Number.MIN_SAFE_INTEGER): number {
    const need = min === Number.MIN_SAFE_INTEGER
      ? `${key} (integer)`
      : `${key} (integer of at least ${min})`;
    return this.check(key, (v): v is number => isSafeInt(v) && v >= min, need);
  }

  /** An optional safe-integer field of at least `min`. */
  optInt(key: string, min?: number): number | undefined {
    return this.#o[key] === undefined ? undefined : this.int(key, min);
  }

  /** An array field whose every element is read by `item`. */
  list<T>(key: string, item: (v: unknown, i: number) => T): T[] {
    const v = this.#o[key];
    if (!Array.isArray(v)) throw this.bad(`${key} (array)`);
    return v.map(item);
  }
}
