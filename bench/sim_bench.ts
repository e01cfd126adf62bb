/**
 * `deno task bench:sim [--quick]`: the swarm simulator (bench/sim/swarm_sim.ts)
 * on the testbed's cases (to check it against bench/lan_bench.ts) and on
 * flash crowds of 100, 1,000 and 10,000 peers (one seeder or four; all at
 * once, or joining over 10 s with one in ten leaving). For each: completion
 * of the last downloader against the bound of the links, the copies the
 * seeders sent, the trackers' request rate per peer and in all, and how long
 * the simulation took. Writes bench/results/sim.json (not with --quick),
 * which docs/PERFORMANCE.md's section reads; the last line is the same JSON.
 */
import { parseArgs } from "node:util";
import { type SimOptions, type SimPeer, simulate } from "./sim/swarm_sim.ts";
import { prng } from "../tests/_prng.ts";
import { writeResult } from "./_results.ts";
import type { SimCaseJson as SimCase } from "./_report_sim.ts";

const { values } = parseArgs({ args: Deno.args, options: { quick: { type: "boolean" } } });
const MBIT = 1e6;
const PIECE = 512 * 1024;
const LAN_MIB = 256;

function run(name: string, o: SimOptions, bound: number): SimCase {
  const t0 = performance.now();
  const r = simulate(o);
  const wall = (performance.now() - t0) / 1000;
  // Downloaders that leave before they are done are not waited for.
  const stayers = o.peers.flatMap((p, i) => !p.seeder && p.leaveAt === undefined ? [i] : []);
  const times = stayers.flatMap((i) => r.done[i] ?? []);
  const all = times.length === stayers.length;
  const span = r.endedAt / 1000;
  const downloaders = o.peers.filter((p) => !p.seeder).length;
  return {
    name,
    peers: o.peers.length,
    mib: o.pieces * o.pieceSize / 1048576,
    lastDone: all ? Math.max(...times) / 1000 : null,
    firstDone: times.length ? Math.min(...times) / 1000 : null,
    doneCount: times.length,
    downloaders: stayers.length,
    bound,
    perPeerRps: (r.lookups + r.reports) / span / downloaders,
    totalRps: (r.lookups + r.reports) / span,
    seederCopies: r.sent.reduce((a, b, i) => a + (o.peers[i]!.seeder ? b : 0), 0) /
      (o.pieces * o.pieceSize),
    events: r.events,
    simSeconds: span,
    wallSeconds: wall,
  };
}

/** `seeders` seeders at `seedUp`, `n` downloaders with `up`, all with `down`; `mib` MiB. */
function crowd(
  n: number,
  mib: number,
  opts: { seedUp: number; up: number; down: number; seeders?: number },
) {
  const k = opts.seeders ?? 1;
  const peers: SimPeer[] = Array.from({ length: k }, () => ({
    up: opts.seedUp,
    down: opts.down,
    seeder: true,
  }));
  for (let i = 0; i < n; i++) peers.push({ up: opts.up, down: opts.down });
  const bits = mib * 1048576 * 8;
  const bound = Math.max(
    bits / (k * opts.seedUp),
    n * bits / (k * opts.seedUp + n * opts.up),
    bits / opts.down,
  );
  return { peers, bound };
}

const say = (text: string) => Deno.stderr.writeSync(new TextEncoder().encode(`\r\x1b[K${text}`));
const cases: SimCase[] = [];
const base = { pieceSize: PIECE, latencyMs: 0.05, seed: 1, untilMs: 600_000 };
// The testbed's cases (bench/lan_bench.ts), to compare.
for (const n of [1, 2, 4, 8]) {
  const peers: SimPeer[] = Array.from({ length: n }, () => ({
    up: 200 * MBIT,
    down: 1000 * MBIT,
    seeder: true,
  }));
  peers.push({ up: 1000 * MBIT, down: 1000 * MBIT });
  const bound = LAN_MIB * 1048576 * 8 / Math.min(n * 200 * MBIT, 1000 * MBIT);
  cases.push(run(`${n} seeder(s), ${LAN_MIB} MiB`, { ...base, pieces: LAN_MIB * 2, peers }, bound));
}
const links = { seedUp: 200 * MBIT, up: 100 * MBIT, down: 1000 * MBIT };
{
  const c = crowd(8, LAN_MIB, links);
  cases.push(
    run(`crowd of 8, ${LAN_MIB} MiB`, { ...base, pieces: LAN_MIB * 2, peers: c.peers }, c.bound),
  );
}
// Scale: seeders at 200 Mbit/s, downloaders 100 Mbit/s up, 1 Gbit/s down, 1 ms; past 100 the
// file shrinks so that a run stays within minutes of wall time, and lookups name 50 sources
// (docs/SCALING.md). `churn`: the downloaders join over 10 s and one in ten leaves without a
// word at a random time in the first 20 s.
interface ScaleCase {
  n: number;
  mib: number;
  seeders?: number;
  churn?: boolean;
}
const scale: ScaleCase[] = values.quick ? [{ n: 100, mib: 16 }, { n: 1000, mib: 16 }] : [
  { n: 100, mib: 16 },
  { n: 100, mib: 256 },
  { n: 1000, mib: 16 },
  { n: 1000, mib: 16, seeders: 4 },
  { n: 1000, mib: 16, churn: true },
  { n: 10000, mib: 16 },
];
for (const sc of scale) {
  const c = crowd(sc.n, sc.mib, { ...links, seeders: sc.seeders });
  const random = prng(sc.n + sc.mib);
  if (sc.churn) {
    for (const p of c.peers) {
      if (p.seeder) continue;
      p.joinAt = random() * 10_000;
      if (random() < 0.1) p.leaveAt = p.joinAt + random() * (20_000 - p.joinAt);
    }
  }
  const name = `crowd of ${sc.n.toLocaleString("en")}, ${sc.mib} MiB` +
    (sc.seeders ? `, ${sc.seeders} seeders` : "") +
    (sc.churn ? ", joining over 10 s, 10% leaving" : "");
  say(`${name}: simulating`);
  const t0 = performance.now();
  const progress = (ms: number, done: number) =>
    say(
      `${name}: ${(ms / 1000).toFixed(0)} s simulated, ${done} done, ${
        ((performance.now() - t0) / 1000).toFixed(0)
      } s wall`,
    );
  const o = {
    ...base,
    latencyMs: 1,
    pieces: sc.mib * 2,
    peers: c.peers,
    maxLookupPeers: sc.n > 100 ? 50 : undefined,
    untilMs: 120_000,
    progress,
  };
  // Joining over 10 s: the bound counts from the last join.
  cases.push(run(name, o, c.bound + (sc.churn ? 10 : 0)));
}
say("");

console.log("swarm simulator: last downloader done against the links' bound; tracker requests/s");
console.log(
  "case                                                  last s   bound s  ×bound  seeder copies  req/s/peer  req/s   wall s",
);
for (const c of cases) {
  console.log(
    `${c.name.padEnd(54)}${(c.lastDone?.toFixed(2) ?? "n/a").padEnd(9)}${
      c.bound.toFixed(2).padEnd(9)
    }${
      (c.lastDone ? (c.lastDone / c.bound).toFixed(2) : `${c.doneCount}/${c.downloaders}`).padEnd(8)
    }${c.seederCopies.toFixed(1).padEnd(15)}${c.perPeerRps.toFixed(2).padEnd(12)}${
      c.totalRps.toFixed(0).padEnd(8)
    }${c.wallSeconds.toFixed(1)}`,
  );
}
const report = { date: new Date().toISOString(), quick: values.quick ?? false, sim: cases };
if (!values.quick) {
  // The report's section (bench/_report_sim.ts) reads it.
  await writeResult("sim.json", report);
}
console.log(JSON.stringify(report));
