/**
 * How large data crosses the tracker link in frames far below its limit, as
 * pure functions: log entries in batches bounded by size, and a message too
 * long for one frame (a large snapshot, a huge entry) cut into fragments of
 * its JSON text that the other side reassembles, bounded and checked.
 *
 * Sizes are counted in UTF-16 code units of JSON text (`string.length`, no
 * scan of the text). One unit takes at most 3 bytes of UTF-8 on the wire, also
 * escaped inside a fragment's JSON string (`"` and `\` take 2), so a frame of
 * {@linkcode FRAME_BUDGET} units carries at most 12 MiB, and plain ASCII text
 * (ids, hex piece hashes) exactly one byte a unit.
 */
import { MAX_LINK_FRAME } from "../../shared/constants.ts";
import { LinkMessageError } from "./wire_checks.ts";

/** Bytes of UTF-8 one unit of JSON text takes on the wire at most. */
const MAX_BYTES_PER_UNIT = 3;
/** Room left in a frame for the envelope around a batch or a fragment. */
const ENVELOPE = 1024;

/** Units of JSON text a batch of entries or one fragment carries at most (4 Mi, ≤ 12 MiB). */
export const FRAME_BUDGET = 4 * 1024 * 1024;
/** Most entries in one `entries` or `merge` frame. */
export const MAX_BATCH_ENTRIES = 500;
/** The longest JSON text sent whole: it fits one frame at any encoding; longer goes in fragments. */
export const MAX_WHOLE = Math.floor((MAX_LINK_FRAME - ENVELOPE) / MAX_BYTES_PER_UNIT);
/** The longest text reassembled from fragments (below the engine's longest string). */
export const MAX_ASSEMBLED = 500 * 1024 * 1024;
/** Most fragments one message may be cut into (a sender may cut smaller than the budget). */
export const MAX_FRAGMENTS = 65_536;

/** Options for {@linkcode batchBySize}. */
export interface BatchOptions<T> {
  /** Size of one item (units of JSON text). */
  size(item: T): number;
  /** Largest total size of a batch; an item larger than this goes alone. */
  budget?: number;
  /** Most items in a batch. */
  maxCount?: number;
}

/**
 * Cuts `items` into consecutive batches, in order, each at most `budget` in
 * total size (one unit per item for the comma between them) and `maxCount`
 * items long. An item larger than the budget goes alone in its batch.
 */
export function batchBySize<T>(items: readonly T[], options: BatchOptions<T>): T[][] {
  const budget = options.budget ?? FRAME_BUDGET - ENVELOPE;
  const maxCount = options.maxCount ?? MAX_BATCH_ENTRIES;
  const out: T[][] = [];
  let batch: T[] = [];
  let total = 0;
  for (const item of items) {
    const size = options.size(item) + 1;
    if (batch.length > 0 && (total + size > budget || batch.length >= maxCount)) {
      out.push(batch);
      batch = [];
      total = 0;
    }
    batch.push(item);
    total += size;
  }
  if (batch.length > 0) out.push(batch);
  return out;
}

/** Length of `v` as JSON text, the size {@linkcode batchBySize} counts. */
export function jsonSize(v: unknown): number {
  return JSON.stringify(v).length;
}

/**
 * Cuts `text` into pieces of at most `units` (default {@linkcode FRAME_BUDGET}),
 * never between the two halves of a surrogate pair (for `units` of 2 or more).
 */
export function fragmentText(text: string, units = FRAME_BUDGET): string[] {
  const out: string[] = [];
  for (let at = 0; at < text.length;) {
    let end = Math.min(text.length, at + units);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && end - at > 1 && last >= 0xd800 && last < 0xdc00) end--;
    out.push(text.slice(at, end));
    at = end;
  }
  return out;
}

/** One fragment as it arrives: its position, how many there are, its text. */
export interface Fragment {
  part: number;
  parts: number;
  text: string;
}

/**
 * Reassembles one fragmented message at a time. Part 0 starts a message (and
 * drops one left unfinished); every other part must follow in order with the
 * same count. Anything else, a part over {@linkcode FRAME_BUDGET} or a total
 * over {@linkcode MAX_ASSEMBLED}, throws {@linkcode LinkMessageError}.
 */
export class Reassembly {
  #parts: string[] = [];
  #expected = 0;
  #length = 0;

  /** True while a message has begun and not all its parts have come. */
  get pending(): boolean {
    return this.#expected > 0;
  }

  /** Takes the next fragment; returns the whole text once its last part came, else null. */
  push(f: Fragment): string | null {
    if (f.parts < 1 || f.parts > MAX_FRAGMENTS || f.part < 0 || f.part >= f.parts) {
      this.#reset();
      throw new LinkMessageError(`Fragment ${f.part} of ${f.parts} is out of range`);
    }
    if (f.part === 0) {
      this.#reset();
      this.#expected = f.parts;
    } else if (f.parts !== this.#expected || f.part !== this.#parts.length) {
      const want = this.#expected === 0 ? "none" : `${this.#parts.length} of ${this.#expected}`;
      this.#reset();
      throw new LinkMessageError(
        `Fragment ${f.part} of ${f.parts} out of order (expected ${want})`,
      );
    }
    if (f.text.length === 0 || f.text.length > FRAME_BUDGET) {
      this.#reset();
      throw new LinkMessageError(`Fragment of ${f.text.length} units (1 to ${FRAME_BUDGET})`);
    }
    this.#length += f.text.length;
    if (this.#length > MAX_ASSEMBLED) {
      this.#reset();
      throw new LinkMessageError(`Fragmented message longer than ${MAX_ASSEMBLED} units`);
    }
    this.#parts.push(f.text);
    if (this.#parts.length < this.#expected) return null;
    const text = this.#parts.join("");
    this.#reset();
    return text;
  }

  #reset(): void {
    this.#parts = [];
    this.#expected = 0;
    this.#length = 0;
  }
}
