/**
 * The wire frame codec: bytes in, frames out, no I/O.
 *
 * Every frame is `u32 length` (big-endian, bytes that follow) then `u8 kind`:
 * - kind 1 (JSON): the rest is a UTF-8 JSON object, a control message.
 * - kind 2 (DATA): `u32 tag` then raw bytes (piece data), so binary payloads
 *   travel without base64 and, when a frame arrives whole, without a copy.
 */
import { FrameError } from "./errors.ts";

/** Frame kind byte for a JSON control message. */
export const KIND_JSON = 1;
/** Frame kind byte for a binary data frame. */
export const KIND_DATA = 2;

/**
 * A JSON control message: an object with a `t` (type) field, not yet checked
 * further. The decoders of shared/protocol/ turn it into a typed message.
 */
export type Message = Record<string, unknown> & { t: string };

/** A decoded frame. */
export type Frame =
  | { kind: "json"; msg: Message }
  | { kind: "data"; tag: number; data: Uint8Array };

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Encodes a control message as one frame. */
export function encodeJson(msg: Message): Uint8Array {
  const body = encoder.encode(JSON.stringify(msg));
  const out = new Uint8Array(5 + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, body.length + 1);
  out[4] = KIND_JSON;
  out.set(body, 5);
  return out;
}

/**
 * Encodes only the 9-byte header of a data frame whose payload is `length` bytes,
 * so that the payload can be written after it without being copied.
 */
export function encodeDataHeader(tag: number, length: number): Uint8Array {
  const out = new Uint8Array(9);
  const view = new DataView(out.buffer);
  view.setUint32(0, length + 5);
  out[4] = KIND_DATA;
  view.setUint32(5, tag >>> 0);
  return out;
}

/** Options for {@linkcode FrameDecoder}. */
export interface FrameDecoderOptions {
  /** The largest frame body (after the length prefix) accepted; larger ones throw. */
  maxFrame: number;
  /**
   * Allocates the buffer a frame split over several chunks is assembled in
   * (default: a new Uint8Array). A pool here avoids fresh memory per frame.
   */
  alloc?: (len: number) => Uint8Array;
  /**
   * Takes back a buffer from `alloc` that the decoder no longer needs: a
   * control frame's once parsed, a partial frame's on {@linkcode FrameDecoder.dispose}.
   * A data frame's buffer belongs to whoever receives the frame.
   */
  release?: (buf: Uint8Array) => void;
}

/**
 * An incremental frame decoder. Feed it bytes as they arrive with `push`; it
 * returns every frame completed so far and keeps the rest. Any malformed or
 * oversized frame throws {@linkcode FrameError}; the decoder is then unusable.
 */
export class FrameDecoder {
  #max: number;
  #alloc: (len: number) => Uint8Array;
  #release: (buf: Uint8Array) => void;
  #head = new Uint8Array(4);
  #headFill = 0;
  #body: Uint8Array | null = null;
  #bodyFill = 0;

  constructor(options: FrameDecoderOptions) {
    this.#max = options.maxFrame;
    this.#alloc = options.alloc ?? ((len) => new Uint8Array(len));
    this.#release = options.release ?? (() => {});
  }

  /** Changes the largest frame accepted from now on (e.g. after a link is authenticated). */
  set maxFrame(max: number) {
    this.#max = max;
  }

  /** True while part of a frame has been received and the rest has not. */
  get partial(): boolean {
    return this.#headFill > 0 || this.#body !== null;
  }

  /** Consumes `chunk` and returns the frames it completes, in order. */
  push(chunk: Uint8Array): Frame[] {
    const frames: Frame[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      if (this.#body === null) {
        if (this.#headFill === 0 && chunk.length - pos >= 4) {
          const len = readU32(chunk, pos);
          this.#checkLength(len);
          pos += 4;
          if (chunk.length - pos >= len) {
            // Whole frame inside this chunk: decode from a view, no copy.
            frames.push(parseBody(chunk.subarray(pos, pos + len)));
            pos += len;
            continue;
          }
          this.#body = this.#alloc(len);
          this.#bodyFill = 0;
        } else {
          const take = Math.min(4 - this.#headFill, chunk.length - pos);
          this.#head.set(chunk.subarray(pos, pos + take), this.#headFill);
          this.#headFill += take;
          pos += take;
          if (this.#headFill < 4) break;
          const len = readU32(this.#head, 0);
          this.#checkLength(len);
          this.#headFill = 0;
          this.#body = this.#alloc(len);
          this.#bodyFill = 0;
        }
      }
      const body: Uint8Array = this.#body;
      const take = Math.min(body.length - this.#bodyFill, chunk.length - pos);
      body.set(chunk.subarray(pos, pos + take), this.#bodyFill);
      this.#bodyFill += take;
      pos += take;
      if (this.#bodyFill === body.length) {
        this.#body = null;
        frames.push(this.#parseOwned(body));
      }
    }
    return frames;
  }

  /**
   * The unfilled rest of the frame being assembled, or null. A reader may
   * read straight into it (saving a copy) and then call {@linkcode filled}.
   */
  get rest(): Uint8Array | null {
    return this.#body ? this.#body.subarray(this.#bodyFill) : null;
  }

  /** Records that `n` bytes were written into {@linkcode rest}; returns the frame if it completed. */
  filled(n: number): Frame[] {
    const body = this.#body;
    if (!body || n > body.length - this.#bodyFill) throw new RangeError("No room for those bytes");
    this.#bodyFill += n;
    if (this.#bodyFill < body.length) return [];
    this.#body = null;
    return [this.#parseOwned(body)];
  }

  /** Gives back the buffer of a partly received frame; the decoder is unusable afterwards. */
  dispose(): void {
    if (this.#body) this.#release(this.#body);
    this.#body = null;
  }

  #parseOwned(body: Uint8Array): Frame {
    let frame: Frame;
    try {
      frame = parseBody(body);
    } catch (err) {
      this.#release(body);
      throw err;
    }
    if (frame.kind === "json") this.#release(body);
    return frame;
  }

  #checkLength(len: number): void {
    if (len === 0) throw new FrameError("Empty frame");
    if (len > this.#max) {
      throw new FrameError(`Frame of ${len} bytes exceeds the limit of ${this.#max}`);
    }
  }
}

function readU32(buf: Uint8Array, pos: number): number {
  return ((buf[pos]! << 24) | (buf[pos + 1]! << 16) | (buf[pos + 2]! << 8) | buf[pos + 3]!) >>>
    0;
}

function parseBody(body: Uint8Array): Frame {
  const kind = body[0];
  if (kind === KIND_JSON) {
    let value: unknown;
    try {
      value = JSON.parse(decoder.decode(body.subarray(1)));
    } catch (err) {
      throw new FrameError("Control frame is not valid UTF-8 JSON", { cause: err });
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new FrameError("Control frame is not a JSON object");
    }
    const t = (value as Record<string, unknown>).t;
    if (typeof t !== "string") throw new FrameError("Control frame has no string field t");
    return { kind: "json", msg: value as Message };
  }
  if (kind === KIND_DATA) {
    if (body.length < 5) throw new FrameError("Data frame shorter than its header");
    return { kind: "data", tag: readU32(body, 1), data: body.subarray(5) };
  }
  throw new FrameError(`Unknown frame kind ${kind}`);
}
