/**
 * The peer's keepalive with the trackers: a `watch` request held open at the
 * primary, re-sent as soon as it is answered, while a session is logged in.
 * It keeps the session online (the trackers count a session that is silent
 * for three intervals as offline) and brings revocations (a member left the
 * group, logged out, a file left the group) within milliseconds, so that the
 * piece server stops serving under a revoked grant.
 */
import { DEFAULT_KEEPALIVE_MS } from "../../shared/constants.ts";
import { describeError } from "../../shared/errors.ts";
import type { RevocationNews } from "../../shared/grant.ts";
import { log } from "../../shared/log.ts";
import { BadMessage } from "../../shared/protocol/bad_message.ts";
import { decodeWatchAnswer, type WatchAnswer } from "../../shared/protocol/client_answers.ts";
import type { TrackerClient } from "./tracker_client.ts";

const logger = log("peer", "watch");

/** Watches are never sent closer together than this (a tracker that answers at once). */
const MIN_GAP_MS = 20;
/** How often a peer with no session looks whether one has begun (no request is sent). */
const LOGIN_POLL_MS = 50;

/** Options for {@linkcode TrackerWatch}. */
export interface TrackerWatchOptions {
  client: Pick<TrackerClient, "token" | "request">;
  intervalMs?: number;
  /** Called with every answer that revokes something. */
  revoked: (news: RevocationNews) => void;
}

/** Runs the watch loop until {@linkcode TrackerWatch.stop}. */
export class TrackerWatch {
  #opts: TrackerWatchOptions;
  #interval: number;
  /** The last log position heard of: index and the epoch of the entry there. */
  #since = -1;
  #sinceEpoch = 0;
  #stopped = false;
  #sleep: { timer: ReturnType<typeof setTimeout>; wake: () => void } | null = null;
  readonly done: Promise<void>;

  constructor(opts: TrackerWatchOptions) {
    this.#opts = opts;
    this.#interval = opts.intervalMs ?? DEFAULT_KEEPALIVE_MS;
    this.done = this.#loop();
  }

  /** Ends the loop (a watch in flight is abandoned with the client). */
  stop(): void {
    this.#stopped = true;
    if (this.#sleep) {
      clearTimeout(this.#sleep.timer);
      this.#sleep.wake();
    }
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      const started = performance.now();
      if (this.#opts.client.token === undefined) {
        await this.#pause(LOGIN_POLL_MS);
        continue;
      }
      let waitMs = this.#interval;
      try {
        const res = await this.#opts.client.request(
          "watch",
          { since: this.#since, epoch: this.#sinceEpoch, interval: this.#interval },
          { deadlineMs: this.#interval * 2 + 3000 },
        );
        if (this.#stopped) return;
        if (res.ok) {
          this.#take(res.data);
          waitMs = MIN_GAP_MS - (performance.now() - started);
        } else {
          logger.debug("Watch refused: {error}", { error: res.error });
        }
      } catch (err) {
        logger.debug("Watch failed: {error}", { error: describeError(err) });
      }
      if (waitMs > 0) await this.#pause(waitMs);
    }
  }

  /** Takes a watch answer (a malformed one is logged and changes nothing). */
  #take(data: Record<string, unknown>): void {
    let answer: WatchAnswer;
    try {
      answer = decodeWatchAnswer(data);
    } catch (err) {
      if (!(err instanceof BadMessage)) throw err;
      logger.warn("Malformed watch answer from the tracker: {error}", { error: err.message });
      return;
    }
    const { index, epoch, revocations, floor, floorEp } = answer;
    this.#since = index;
    this.#sinceEpoch = epoch;
    if (revocations.length > 0 || floor > 0) this.#opts.revoked({ revocations, floor, floorEp });
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#sleep = null;
        resolve();
      }, ms);
      this.#sleep = { timer, wake: resolve };
    });
  }
}
