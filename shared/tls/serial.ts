/**
 * The serial of a peer identity certificate says where in the trackers' log
 * it was issued (epoch and index, like a grant's `ep` and `idx`), so a
 * revocation at a later position voids it. Random bytes follow, so every
 * certificate's serial is unique.
 *
 * Layout (hex): `01` · epoch (8 digits) · index (12 digits) · 16 random digits.
 */
import { bytesToHex } from "../hex.ts";

const MARK = "01";
const EPOCH_DIGITS = 8;
const INDEX_DIGITS = 12;
const RANDOM_BYTES = 8;
const MAX_EPOCH = 16 ** EPOCH_DIGITS - 1;
const MAX_INDEX = 16 ** INDEX_DIGITS - 1;

/** A log position: the epoch of the entry at `idx`, and `idx`. */
export interface LogPosition {
  ep: number;
  idx: number;
}

/**
 * The serial of a certificate issued at `at`; its last 8 bytes are `tail`
 * when given (a login's certificate is made the same every time), else random.
 */
export function positionSerial(at: LogPosition, tail?: Uint8Array): string {
  if (!inRange(at.ep, MAX_EPOCH) || !inRange(at.idx, MAX_INDEX)) {
    throw new RangeError(`log position ${at.ep}/${at.idx} does not fit a serial`);
  }
  return MARK + at.ep.toString(16).padStart(EPOCH_DIGITS, "0") +
    at.idx.toString(16).padStart(INDEX_DIGITS, "0") +
    bytesToHex(
      tail?.slice(0, RANDOM_BYTES) ?? crypto.getRandomValues(new Uint8Array(RANDOM_BYTES)),
    );
}

/** The log position a serial from {@linkcode positionSerial} names, or null for any other serial. */
export function serialPosition(serial: string): LogPosition | null {
  const s = serial.toLowerCase();
  const len = MARK.length + EPOCH_DIGITS + INDEX_DIGITS + RANDOM_BYTES * 2;
  if (s.length !== len || !s.startsWith(MARK) || !/^[0-9a-f]+$/.test(s)) return null;
  const epEnd = MARK.length + EPOCH_DIGITS;
  return {
    ep: parseInt(s.slice(MARK.length, epEnd), 16),
    idx: parseInt(s.slice(epEnd, epEnd + INDEX_DIGITS), 16),
  };
}

function inRange(n: number, max: number): boolean {
  return Number.isSafeInteger(n) && n >= 0 && n <= max;
}
