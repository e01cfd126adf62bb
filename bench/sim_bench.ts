/**
 * `deno task bench:sim [--quick]`: the swarm simulator (bench/sim/swarm_sim.ts)
 * on the testbed's cases (to check it against bench/lan_bench.ts) and on
 * flash crowds of 100, 1,000 and 10,000 peers. For each: completion of the
 * last downloader against the bound of the links, the trackers' request rate
 * per peer and in all, and how long the simulation took. The last line is JSON.
 */
import { parseArgs } from "node:util";
import { type SimOptions, type SimPeer, simulate } from "./sim/swarm_sim.ts";

const { values } = parseArgs({ args: Deno.args, options: { quick: { type: "boolean" } } });
const MBIT = 1e6;
const PIECE = 512 * 1024;
const LAN_MIB = 256;

/** What one case gave. */
interface SimCase {
  name: string;
  peers: number;
  mib: number;
  /** Seconds until the last downloader was done (null: not all done). */
  lastDone: number | null;
  firstDone: number | null;
  /** Downloaders done by the end, and in all. */
  doneCount: number;
  downloaders: number;
  /** The links' bound for the last one, s. */
  bound: number;
  /** Tracker requests (lookups + reports) per second, per downloader and in all. */
  perPeerRps: number;
  totalRps: number;
  simSeconds: number;
  wallSeconds: number;
}

function run(name: string, o: SimOptions, bound: number): SimCase {
  const t0 = performance.now();
  const r = simulate(o);
  const wall = (performance.now() - t0) / 1000;
  const times = r.done.filter((d, i) => !o.peers[i]!.seeder && d !== null) as number[];
  const downloaders = o.peers.filter((p) => !p.seeder).length;
  const all = times.length === downloaders;
  const span = r.endedAt / 1000;
  return {
    name,
    peers: o.peers.length,
    mib: o.pieces * o.pieceSize / 1048576,
    lastDone: all ? Math.max(...times) / 1000 : null,
    firstDone: times.length ? Math.min(...times) / 1000 : null,
    doneCount: times.length,
    downloaders,
    bound,
    perPeerRps: (r.lookups + r.reports) / span / downloaders,
    totalRps: (r.lookups + r.reports) / span,
    simSeconds: span,
    wallSeconds: wall,
  };
}

/** One seeder at `seedUp`, `n` downloaders with `up`, all with `down`; `mib` MiB. */
function crowd(n: number, mib: number, opts: { seedUp: number; up: number; down: number }) {
  const peers: SimPeer[] = [{ up: opts.seedUp, down: opts.down, seeder: true }];
  for (let i = 0; i < n; i++) peers.push({ up: opts.up, down: opts.down });
  const bits = mib * 1048576 * 8;
  const bound = Math.max(
    bits / opts.seedUp,
    n * bits / (opts.seedUp + n * opts.up),
    bits / opts.down,
  );
  return { peers, bound };
}

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
{
  const c = crowd(8, LAN_MIB, { seedUp: 200 * MBIT, up: 100 * MBIT, down: 1000 * MBIT });
  cases.push(
    run(`crowd of 8, ${LAN_MIB} MiB`, { ...base, pieces: LAN_MIB * 2, peers: c.peers }, c.bound),
  );
}
// Scale: one seeder at 200 Mbit/s, downloaders 100 Mbit/s up, 1 Gbit/s down, 1 ms; the file
// shrinks as the crowd grows so that a run stays within minutes of wall time.
const scale = values.quick ? [[100, 16]] : [[100, 16], [1000, 16]];
for (const [n, mib] of scale as [number, number][]) {
  const c = crowd(n, mib, { seedUp: 200 * MBIT, up: 100 * MBIT, down: 1000 * MBIT });
  // Lists of every source grow with the crowd; past 100 a lookup names 50 (see docs/SCALING.md).
  const maxLookupPeers = n > 100 ? 50 : undefined;
  const o = {
    ...base,
    latencyMs: 1,
    pieces: mib * 2,
    peers: c.peers,
    maxLookupPeers,
    untilMs: 120_000,
  };
  cases.push(
    run(`crowd of ${n}, ${mib} MiB${maxLookupPeers ? ", lookups list 50" : ""}`, o, c.bound),
  );
  Deno.stderr.writeSync(new TextEncoder().encode(`\r\x1b[Kcrowd of ${n} done`));
}
Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[K"));

console.log("swarm simulator: last downloader done against the links' bound; tracker requests/s");
console.log(
  "case                                      last s   bound s  ×bound  req/s/peer  req/s   wall s",
);
for (const c of cases) {
  console.log(
    `${c.name.padEnd(42)}${(c.lastDone?.toFixed(2) ?? "n/a").padEnd(9)}${
      c.bound.toFixed(2).padEnd(9)
    }${
      (c.lastDone ? (c.lastDone / c.bound).toFixed(2) : `${c.doneCount}/${c.downloaders}`).padEnd(8)
    }${c.perPeerRps.toFixed(2).padEnd(12)}${c.totalRps.toFixed(0).padEnd(8)}${
      c.wallSeconds.toFixed(1)
    }`,
  );
}
console.log(JSON.stringify({ sim: cases }));
