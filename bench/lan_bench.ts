/**
 * `deno task bench:lan [--mib <n>] [--runs <n>]`: shoal on a shaped
 * multi-host testbed (tests/harness/netns.ts): every peer and the tracker
 * pair on its own network namespace, each link shaped with `tc` in both
 * directions. The cases of issue 14:
 *
 * - seeders: one file from N = 1, 2, 4, 8 seeders with 200 Mbit/s up each,
 *   the downloader 1 Gbit/s down; ideal = size ÷ min(N × 200 Mbit/s, 1 Gbit/s)
 * - slow: 3 seeders at 200 Mbit/s and a 4th at 20 Mbit/s, against the 3 alone
 * - crowd: 1 seeder at 200 Mbit/s, 8 downloaders (100 Mbit/s up, 1 Gbit/s
 *   down) given the download command together; ideal for the last one =
 *   size ÷ the seeder's uplink
 *
 * Without the rights to make namespaces it prints one "skipped: ..." line
 * (and a JSON line saying so). The last line is JSON.
 */
import { parseArgs } from "node:util";
import { progress, randomFile } from "./_download_bench.ts";
import { medianMinMax } from "./_stats.ts";
import { mmm } from "./_results.ts";
import { BenchSwarm } from "./_swarm.ts";
import { rateBits, type Shape, Testbed } from "../tests/harness/netns.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    mib: { type: "string", default: "256" },
    runs: { type: "string", default: "3" },
    /** Comma-separated: seeders, slow, crowd (default all). */
    cases: { type: "string", default: "seeders,slow,crowd" },
  },
});
const wanted = new Set(values.cases.split(","));
const mib = Number(values.mib);
const runs = Number(values.runs);
if (!(mib >= 1 && mib <= 4096 && runs >= 1 && runs <= 10)) {
  console.error("error: --mib must be 1-4096 and --runs 1-10");
  Deno.exit(1);
}

const SEEDER_UP = "200mbit";
const SLOW_UP = "20mbit";
const DOWN = "1gbit";
const CROWD_UP = "100mbit";
const SEEDER_COUNTS = [1, 2, 4, 8];
const CROWD = 8;
const seederHosts = Array.from({ length: 8 }, (_, i) => `s${i + 1}`);
const crowdHosts = Array.from({ length: CROWD }, (_, i) => `c${i + 1}`);
const bytes = mib * 1024 * 1024;

/** Seconds to move the file at `bits` per second. */
const ideal = (bits: number) => bytes * 8 / bits;

/** One case's figures. */
interface CaseResult {
  name: string;
  seconds: number[];
  ideal: number;
}

const bed = await Testbed.create("lan", ["t", "d", ...seederHosts, ...crowdHosts]);
if (typeof bed === "string") {
  console.log(bed);
  console.log(JSON.stringify({ lan: null, skipped: bed }));
  Deno.exit(0);
}
const cases: CaseResult[] = [];
const crowdRuns: number[][] = [];
/** Per crowd run: what the seeder's link carried out (TLS and TCP included), in copies of the file. */
const seederCopies: number[] = [];
try {
  const link = (up: string, down: string): { up: Shape; down: Shape } => ({
    up: { rate: up },
    down: { rate: down },
  });
  for (const s of seederHosts) await bed.shape(s, link(SEEDER_UP, DOWN));
  for (const c of crowdHosts) await bed.shape(c, link(CROWD_UP, DOWN));
  await bed.shape("d", link(DOWN, DOWN));
  const swarm = await BenchSwarm.start({ bed });
  try {
    const name = `lan${mib}.bin`;
    const path = `${swarm.dir}/${name}`;
    progress(`writing ${mib} MiB of random data`);
    await randomFile(path, mib);
    progress(`8 seeders upload ${name}`);
    await swarm.share(path, 8);
    const timed = async (label: string, k: number, perfect: number) => {
      await swarm.onlineSeeders(k);
      const c: CaseResult = { name: label, seconds: [], ideal: perfect };
      for (let r = 0; r < runs; r++) {
        progress(`${label}: run ${r + 1}/${runs}`);
        const d = await swarm.downloader("d");
        c.seconds.push((await swarm.download(d, name)).seconds);
        await swarm.dropDownloader(d);
      }
      cases.push(c);
    };
    const downBits = rateBits(DOWN);
    for (const n of wanted.has("seeders") ? SEEDER_COUNTS : []) {
      await timed(`${n} seeder(s)`, n, ideal(Math.min(n * rateBits(SEEDER_UP), downBits)));
    }
    // The 4th seeder becomes slow; the 3 fast ones alone are timed just before it, for the ratio.
    if (wanted.has("slow")) {
      await bed.shape("s4", link(SLOW_UP, DOWN));
      const fast3 = ideal(3 * rateBits(SEEDER_UP));
      await timed("3 fast seeders", 3, fast3);
      await timed("3 fast + 1 slow", 4, ideal(3 * rateBits(SEEDER_UP) + rateBits(SLOW_UP)));
      await bed.shape("s4", link(SEEDER_UP, DOWN));
    }
    await swarm.onlineSeeders(1);
    for (let r = 0; r < (wanted.has("crowd") ? runs : 0); r++) {
      progress(`flash crowd of ${CROWD}: run ${r + 1}/${runs}`);
      const sent0 = await bed.txBytes("s1");
      crowdRuns.push(await swarm.crowd(name, CROWD, crowdHosts));
      seederCopies.push((await bed.txBytes("s1") - sent0) / bytes);
    }
  } finally {
    await swarm.close();
  }
} finally {
  await bed.destroy();
}
progress("");

const crowdIdeal = ideal(rateBits(SEEDER_UP));
// The crowd's uplinks bound it too: CROWD copies must cross the seeder's and the crowd's uplinks.
const crowdBound = Math.max(
  crowdIdeal,
  CROWD * ideal(rateBits(SEEDER_UP) + CROWD * rateBits(CROWD_UP)),
);
console.log(
  `LAN benchmark: ${mib} MiB, ${runs} runs per case; seeders ${SEEDER_UP} up, downloader ${DOWN} down; median (min-max)`,
);
if (cases.length) console.log("case                 time s               ideal s  of ideal");
for (const c of cases) {
  const m = medianMinMax(c.seconds);
  console.log(
    `${c.name.padEnd(21)}${mmm(m, 2).padEnd(21)}${c.ideal.toFixed(2).padEnd(9)}${
      (100 * c.ideal / m.median).toFixed(0)
    }%`,
  );
}
if (crowdRuns.length) {
  const lm = medianMinMax(crowdRuns.map((r) => r.at(-1)!));
  const fm = medianMinMax(crowdRuns.map((r) => r[0]!));
  console.log(
    `flash crowd of ${CROWD} (${CROWD_UP} up each): first done ${mmm(fm, 2)} s, last ${
      mmm(lm, 2)
    } s; size ÷ seeder uplink ${crowdIdeal.toFixed(2)} s (last: ${
      (lm.median / crowdIdeal).toFixed(2)
    }×); bound of all uplinks ${crowdBound.toFixed(2)} s (${
      (lm.median / crowdBound).toFixed(2)
    }×); the seeder sent ${mmm(medianMinMax(seederCopies), 2)} copies`,
  );
}
console.log(JSON.stringify({
  lan: {
    mib,
    runs,
    cases,
    crowd: { ideal: crowdIdeal, bound: crowdBound, runs: crowdRuns, seederCopies },
  },
}));
