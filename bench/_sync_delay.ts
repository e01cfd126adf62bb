/**
 * Synchronisation delay between the trackers. The primary answers a write only
 * after the secondary has applied and persisted it, so the op is on the
 * secondary *before* the acknowledgement: the delay from the acknowledgement
 * to the op being applied on the secondary is negative by design. This
 * measures it anyway, from the trackers' own clocks: after each write the
 * console `status` of both trackers gives the index and the time (Unix ms, µs
 * precision) at which each last applied an op, which is compared with the time
 * the client received the answer. Every process reads the same system clock.
 */
import { type LatencySummary, summarize } from "./_stats.ts";
import type { TrackerPair } from "../tests/harness/tracker_pair.ts";
import type { WireClient } from "./_wire_client.ts";

/** The console's status lines this needs. */
const LAST_OP_LINE = /^tracker \d: \w+, epoch \d+, last op (\d+)/;
const APPLIED_LINE = /^last op applied at (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})(\d{3})Z$/;

/** Percentiles of a signed delay, in ms, with its minimum. */
export type DelaySummary = LatencySummary & { min: number };

/** What {@linkcode measureSyncDelay} measured, in ms. */
export interface SyncDelay {
  /** Applied on the secondary minus answer received by the client (negative: applied first). */
  applyMinusAck: DelaySummary;
  /** Applied on the secondary minus applied on the primary (the replication lag). */
  secondaryMinusPrimary: DelaySummary;
  /** Writes whose index the secondary had not reached, or that another op overtook. */
  skipped: number;
}

/** Index and apply time (Unix ms) of tracker `n`'s last op, from its console. */
async function lastApplied(pair: TrackerPair, n: 1 | 2): Promise<{ index: number; at: number }> {
  const lines = await pair.tracker(n).statusLines();
  const index = lines.map((l) => LAST_OP_LINE.exec(l)).find((m) => m)?.[1];
  const at = lines.map((l) => APPLIED_LINE.exec(l)).find((m) => m);
  if (index === undefined || !at) throw new Error(`Unexpected status: ${lines.join(" | ")}`);
  return { index: Number(index), at: Date.parse(`${at[1]}Z`) + Number(at[2]) / 1000 };
}

/**
 * Sends `count` replicated writes (`cmd` with `args(seq)`) one at a time on
 * `client` (connected to primary `primary`) and compares each one's
 * acknowledgement with the apply times on both trackers.
 */
export async function measureSyncDelay(
  pair: TrackerPair,
  options: {
    client: WireClient;
    primary: 1 | 2;
    cmd: string;
    args: (seq: number) => Record<string, unknown>;
    count: number;
  },
): Promise<SyncDelay> {
  const secondary = options.primary === 1 ? 2 : 1;
  const vsAck: number[] = [];
  const lag: number[] = [];
  let skipped = 0;
  for (let seq = 0; seq < options.count; seq++) {
    const res = await options.client.request(options.cmd, options.args(seq));
    const ackAt = performance.timeOrigin + performance.now();
    if (!res.ok) throw new Error(`${options.cmd} failed: ${res.error}`);
    const p = await lastApplied(pair, options.primary);
    const s = await lastApplied(pair, secondary);
    // Only a write that is the last op on both trackers is timed by their status.
    if (p.index !== s.index) {
      skipped++;
      continue;
    }
    vsAck.push(s.at - ackAt);
    lag.push(s.at - p.at);
  }
  const spread = (x: number[]) => ({ ...summarize(x), min: Math.min(...x) });
  return { applyMinusAck: spread(vsAck), secondaryMinusPrimary: spread(lag), skipped };
}
