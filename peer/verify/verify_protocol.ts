/**
 * Messages between the main thread ({@link ./verifier.ts}) and the verify host
 * (./verify_host.ts), over their own MessagePort.
 */
import type { FileHashes } from "./file_hashes.ts";

/** Main thread → verify host. */
export type VerifyCommand =
  /** Hash every piece of `path` and the whole file (a file to share). */
  | { type: "hashFile"; id: number; path: string; pieceSize: number }
  /** Hash `path` up to `upTo` bytes (its verified prefix); with `size`, finish there. */
  | { type: "follow"; id: number; path: string; upTo: number; size?: number }
  /** Stop hash `id` without a result. */
  | { type: "cancel"; id: number };

/** Verify host → main thread: the end of hash `id`. */
export type VerifyEvent =
  | { type: "fileHashed"; id: number; hashes: FileHashes }
  | { type: "prefixHashed"; id: number; sha1: string }
  | { type: "failed"; id: number; error: string };
