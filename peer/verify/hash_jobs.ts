/**
 * Whole-file hash jobs that a worker runs for the main thread: one
 * {@link FollowHasher} per download, driven by `hash` commands as the
 * download's verified prefix grows. The piece-server worker runs them, so
 * that the hash proceeds beside the transfer worker that writes the file.
 */
import { describeError } from "../../shared/errors.ts";
import { FollowHasher } from "./follow_hasher.ts";

/** Main thread → worker: hash `path` up to `upTo` bytes; with `size`, finish there. */
export type HashCommand =
  | { type: "hash"; id: number; path: string; upTo: number; size?: number }
  | { type: "hashCancel"; id: number };

/** Worker → main thread: the end of hash `id`. */
export type HashEvent =
  | { type: "hashed"; id: number; sha1: string }
  | { type: "hashFailed"; id: number; error: string };

/** The hash jobs of one worker. */
export class HashJobs {
  #hashers = new Map<number, FollowHasher>();
  #post: (e: HashEvent) => void;

  constructor(post: (e: HashEvent) => void) {
    this.#post = post;
  }

  /** Applies one command. */
  handle(m: HashCommand): void {
    if (m.type === "hashCancel") {
      this.#hashers.get(m.id)?.cancel();
      this.#hashers.delete(m.id);
      return;
    }
    let h = this.#hashers.get(m.id);
    if (!h) {
      h = new FollowHasher(m.path);
      this.#hashers.set(m.id, h);
    }
    if (m.size === undefined) {
      h.advance(m.upTo);
      return;
    }
    h.finish(m.size).then(
      (sha1) => this.#post({ type: "hashed", id: m.id, sha1 }),
      (err) => this.#post({ type: "hashFailed", id: m.id, error: describeError(err) }),
    ).finally(() => this.#hashers.delete(m.id));
  }
}
