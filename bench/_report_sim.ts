/** The report's "The swarm at scale (simulator)" section, from bench/results/sim.json (`deno task bench:sim`). */

/** One case of bench/sim_bench.ts. */
export interface SimCaseJson {
  name: string;
  peers: number;
  lastDone: number | null;
  doneCount: number;
  downloaders: number;
  bound: number;
  perPeerRps: number;
  totalRps: number;
  seederCopies: number;
  events: number;
  wallSeconds: number;
}

/** What bench/sim_bench.ts writes. */
export interface SimJson {
  date: string;
  sim: SimCaseJson[];
}

/** Reads the last full run, or null when there is none. */
export async function readSim(): Promise<SimJson | null> {
  try {
    return JSON.parse(
      await Deno.readTextFile(new URL("./results/sim.json", import.meta.url)),
    ) as SimJson;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
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
