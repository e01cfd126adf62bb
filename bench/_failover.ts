/**
 * Failover time: a peer's {@linkcode TrackerClient} writes without pause while
 * the primary is killed with SIGKILL. A round's figure is the time from the
 * kill until a write *sent after the kill* has succeeded (a write already in
 * flight may have been answered from the socket buffer, so it does not count).
 * The killed tracker is then restarted and left to catch up, and the next
 * round kills the other one.
 */
import { describeError } from "../shared/errors.ts";
import { TrackerClient } from "../peer/tracker_client/tracker_client.ts";
import type { TrackerPair } from "../tests/harness/tracker_pair.ts";

/** Longest a round may wait for the first write after the kill. */
const ROUND_TIMEOUT_MS = 20_000;
/** Time the writer runs against the current primary before it is killed. */
const SETTLE_MS = 300;

/** How long after the catch-up the primary's line about it may arrive. */
const CATCH_UP_LINE_TIMEOUT_MS = 2000;
/** The primary's log line that says how a secondary catches up. */
const CATCH_UP_LINE = /Secondary catching up from index \d+ by "?(\w+)/;
/** The survivor's log line when it takes over. */
const PROMOTED_LINE = /is now primary/;

/** One kill and its recovery. */
export interface FailoverRound {
  killed: 1 | 2;
  /** From the kill until a write sent after it succeeded. */
  failoverMs: number;
  /** From the kill until the survivor's "is now primary" log line arrived. */
  promotedMs: number;
  /** From the restart of the killed tracker until it caught up as secondary. */
  rejoinMs: number;
  /** How the primary brought it up to date: "log" entries or a full "snapshot". */
  catchUp: string;
}

/** What {@linkcode measureFailover} measured. */
export interface FailoverResult {
  rounds: FailoverRound[];
  writes: number;
  /** Writes that failed (answered with an error or gave up); expected 0. */
  failedWrites: string[];
}

/**
 * Runs `rounds` failovers on `pair`, which must have tracker `primary` as
 * primary and the other caught up; `token` is a logged-in session.
 */
export async function measureFailover(
  pair: TrackerPair,
  options: { token: string; rounds: number; primary: 1 | 2; progress: (s: string) => void },
): Promise<FailoverResult> {
  const client = new TrackerClient({ trackers: pair.endpoints, ca: await pair.ca() });
  client.token = options.token;
  const failedWrites: string[] = [];
  let writes = 0;
  let stopped = false;
  /** Set during a round: the first write sent after `after` that succeeds resolves it. */
  const round: { waiter: { after: number; resolve: (at: number) => void } | null } = {
    waiter: null,
  };
  const tag = crypto.randomUUID().slice(0, 8);

  const writer = (async () => {
    for (let seq = 0; !stopped; seq++) {
      const sent = performance.now();
      try {
        const res = await client.request("create_group", { group: `fo-${tag}-${seq}` });
        const at = performance.now();
        writes++;
        if (!res.ok) failedWrites.push(res.error);
        else if (round.waiter && sent >= round.waiter.after) {
          round.waiter.resolve(at);
          round.waiter = null;
        }
      } catch (err) {
        if (stopped) break;
        failedWrites.push(describeError(err));
      }
    }
  })();

  const rounds: FailoverRound[] = [];
  let primary = options.primary;
  try {
    for (let r = 1; r <= options.rounds; r++) {
      const other = primary === 1 ? 2 : 1;
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      const survivor = pair.tracker(other);
      const since = survivor.stderr.lines().length;
      const next = Promise.withResolvers<number>();
      const killedAt = performance.now();
      round.waiter = { after: killedAt, resolve: next.resolve };
      const gone = pair.kill(primary);
      const timer = setTimeout(
        () =>
          next.reject(new Error(`No write succeeded within ${ROUND_TIMEOUT_MS} ms of the kill`)),
        ROUND_TIMEOUT_MS,
      );
      const failoverMs = (await next.promise.finally(() => clearTimeout(timer))) - killedAt;
      const promoted = await survivor.waitForLine(PROMOTED_LINE, { stream: "stderr", since });
      await gone;
      options.progress(
        `failover ${r}/${options.rounds}: killed tracker ${primary}, writes resumed after ` +
          `${failoverMs.toFixed(0)} ms; restarting it`,
      );
      const restartedAt = performance.now();
      await pair.startTracker(primary, "secondary");
      const rejoinMs = performance.now() - restartedAt;
      // The primary logs how it served the catch-up; its stderr may arrive a moment later.
      const how = await survivor.waitForLine(CATCH_UP_LINE, {
        stream: "stderr",
        since,
        timeoutMs: CATCH_UP_LINE_TIMEOUT_MS,
      });
      rounds.push({
        killed: primary,
        failoverMs,
        promotedMs: promoted.at - killedAt,
        rejoinMs,
        catchUp: CATCH_UP_LINE.exec(how.text)?.[1] ?? "unknown",
      });
      primary = other;
    }
  } finally {
    stopped = true;
    await client.close(); // fails a request still waiting, so the writer ends now
    await writer;
  }
  return { rounds, writes, failedWrites };
}
