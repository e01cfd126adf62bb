/**
 * Swarm properties, checked in the simulator (bench/sim/swarm_sim.ts): the
 * real download session over a model of links and trackers, in simulated
 * time; no sockets. Each case runs in well under a second.
 */
import assert from "node:assert/strict";
import { type SimPeer, simulate } from "../bench/sim/swarm_sim.ts";

const MBIT = 1e6;
const PIECE = 512 * 1024;
const base = { pieceSize: PIECE, latencyMs: 0.05, untilMs: 600_000 };

function seeders(n: number): SimPeer[] {
  const peers: SimPeer[] = Array.from({ length: n }, () => ({
    up: 200 * MBIT,
    down: 1000 * MBIT,
    seeder: true,
  }));
  peers.push({ up: 1000 * MBIT, down: 1000 * MBIT });
  return peers;
}

function crowd(n: number): SimPeer[] {
  const peers: SimPeer[] = [{ up: 200 * MBIT, down: 1000 * MBIT, seeder: true }];
  for (let i = 0; i < n; i++) peers.push({ up: 100 * MBIT, down: 1000 * MBIT });
  return peers;
}

Deno.test("sim: one download sums its seeders' uplinks up to its downlink (within 5% of the links' bound)", () => {
  for (const n of [1, 2, 4, 8]) {
    const r = simulate({ ...base, pieces: 256, peers: seeders(n), seed: 1 });
    const bound = 256 * PIECE * 8 / Math.min(n * 200 * MBIT, 1000 * MBIT) * 1000;
    const done = r.done.at(-1);
    assert.ok(done !== null && done !== undefined, `${n} seeders: not done`);
    assert.ok(done <= bound * 1.05, `${n} seeders: ${done} ms against ${bound} ms`);
  }
});

Deno.test("sim: the same seed gives the same run, another seed another", () => {
  const run = (seed: number) => simulate({ ...base, pieces: 64, peers: crowd(6), seed }).done;
  assert.deepEqual(run(7), run(7));
  assert.notDeepEqual(run(7), run(8));
});

Deno.test("sim: a flash crowd of 8 (the LAN testbed's case) ends within 1.5× the bound of all uplinks, and every downloader serves others", () => {
  const r = simulate({ ...base, pieces: 512, peers: crowd(8), seed: 1 });
  const bits = 512 * PIECE * 8;
  const bound = Math.max(bits / (200 * MBIT), 8 * bits / (200 * MBIT + 8 * 100 * MBIT)) * 1000;
  const times = r.done.slice(1);
  assert.ok(times.every((t) => t !== null), "every downloader is done");
  const last = Math.max(...times as number[]);
  assert.ok(last <= bound * 1.5, `last done at ${last} ms; bound ${bound} ms`);
  for (const [i, bytes] of r.sent.entries()) assert.ok(bytes > 0, `peer ${i} sent nothing`);
});

Deno.test("sim: a crowd whose seeder leaves without a word still completes from its members", () => {
  const peers = crowd(6);
  // By 4.9 s the seeder has sent every piece at least once (at 4.4 s one is still missing).
  peers[0]!.leaveAt = 4_900;
  const r = simulate({ ...base, pieces: 64, peers, seed: 3 });
  const times = r.done.slice(1);
  assert.ok(times.every((t) => t !== null), `pieces at the end: ${r.pieces}`);
  assert.ok(Math.max(...times as number[]) > 4_900, "some finished after it left");
});

Deno.test("sim: with upload slots a crowd of 100 is done before half of it would be without", () => {
  // 16 MiB, one seeder at 200 Mbit/s, 100 downloaders at 100 Mbit/s up; 1 ms latency.
  const o = { ...base, latencyMs: 1, pieces: 32, peers: crowd(100), seed: 1, untilMs: 120_000 };
  const slots = simulate(o);
  const done = slots.done.slice(1);
  assert.ok(done.every((d) => d !== null), "not every downloader finished");
  assert.ok(slots.choked > 0, "no request was ever choked");
  const last = Math.max(...(done as number[]));
  // The same swarm, its peers serving every asker at once, stopped when the first run ended.
  const open = simulate({ ...o, uploadSlots: Infinity, untilMs: last });
  const openDone = open.done.slice(1).filter((d) => d !== null).length;
  assert.ok(openDone < 50, `${openDone} of 100 done by ${last} ms without slots`);
});
