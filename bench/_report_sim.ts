/** The report's "The swarm at scale (simulator)" section, from bench/results/sim.json (`deno task bench:sim`). */

import { readResult } from "./_results.ts";

/** What one case of bench/sim_bench.ts gave. */
export interface SimCaseJson {
  name: string;
  peers: number;
  mib: number;
  /** Seconds until the last downloader was done (null: not all done). */
  lastDone: number | null;
  firstDone: number | null;
  /** Downloaders done by the end, and in all (those that leave early are not counted). */
  doneCount: number;
  downloaders: number;
  /** The links' bound for the last one, s. */
  bound: number;
  /** Tracker requests (lookups + reports) per second, per downloader and in all. */
  perPeerRps: number;
  totalRps: number;
  /** Copies of the file the seeders' uplinks sent, together. */
  seederCopies: number;
  /** Session events the run processed. */
  events: number;
  simSeconds: number;
  wallSeconds: number;
}

/** What bench/sim_bench.ts writes. */
export interface SimJson {
  date: string;
  sim: SimCaseJson[];
}

/** Reads the last full run, or null when there is none. */
export function readSim(): Promise<SimJson | null> {
  return readResult<SimJson>("sim.json");
}

/** The section's lines: what the simulator is, and its table. */
export function simSection(r: SimJson | null): string[] {
  if (!r) return ["Not measured: run `deno task bench:sim` (bench/results/sim.json)."];
  const f = (x: number, d = 2) => x.toFixed(d);
  return [
    `One run of \`deno task bench:sim\` on ${r.date.slice(0, 16).replace("T", " ")} UTC: the ` +
    "real download session and upload slots over a model of links and trackers, in simulated " +
    "time (bench/sim/swarm_sim.ts; docs/SCALING.md compares it with the testbed). Seeders 200 " +
    "Mbit/s up; downloaders 1 Gbit/s down and, in the crowds, 100 Mbit/s up. The bound is the " +
    "larger of size ÷ the seeders' uplinks and all the copies ÷ all the uplinks together " +
    "(with churn, counted from the last join). The crowds of 100 and more have 1 ms latency, " +
    "lookups that name a random 50 sources above 100 peers, and stop at 120 s of simulated time.",
    "",
    "| case | last done s | bound s | × bound | seeders' copies of the file | requests/s per downloader | requests/s in all | wall s |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ...r.sim.map((c) =>
      `| ${c.name} | ${
        c.lastDone === null ? `${c.doneCount} of ${c.downloaders} done` : f(c.lastDone)
      } | ${f(c.bound)} | ${c.lastDone === null ? "-" : f(c.lastDone / c.bound)} | ${
        f(c.seederCopies, 1)
      } | ${f(c.perPeerRps)} | ${f(c.totalRps, 0)} | ${f(c.wallSeconds, 1)} |`
    ),
  ];
}
