/**
 * `deno task bench:lan [--mib <n>] [--runs <n>] [--cases ...]`: shoal and
 * aria2c on a shaped multi-host testbed (tests/harness/netns.ts): every peer
 * and each client's tracker on its own network namespace, each link shaped
 * with `tc` in both directions, the same hosts and links for both clients
 * (aria2's arm: bench/_lan_aria2.ts). The cases of issue 14:
 *
 * - seeders: one file from N = 1, 2, 4, 8 seeders with 200 Mbit/s up each,
 *   the downloader 1 Gbit/s down; ideal = size ÷ min(N × 200 Mbit/s, 1 Gbit/s)
 * - slow: 3 seeders at 200 Mbit/s and a 4th at 20 Mbit/s, against the 3 alone
 * - crowd: 1 seeder at 200 Mbit/s, 8 downloaders (100 Mbit/s up, 1 Gbit/s
 *   down) given the download command together; ideal for the last one =
 *   size ÷ the seeder's uplink. Each downloader's received bytes are sampled
 *   every 250 ms (the run of the median last completion is kept).
 *
 * Within a case the runs of shoal and aria2 alternate (shoal first in odd
 * runs, aria2 in even ones), so drift of the machine hits both. Without
 * aria2c, mktorrent or opentracker it says so in one line and runs shoal
 * only. Without the rights to make namespaces it prints one "skipped: ..."
 * line (and a JSON line saying so). The last line is JSON.
 */
import { parseArgs } from "node:util";
import { progress, randomFile } from "./_download_bench.ts";
import { medianMinMax } from "./_stats.ts";
import { type LanCase, type LanCrowdRuns, type LanJson, mmm, type RxSeries } from "./_results.ts";
import { BenchSwarm } from "./_swarm.ts";
import { missingTool } from "./_aria2.ts";
import { ARIA2_LAN_SETTINGS, Aria2Lan } from "./_lan_aria2.ts";
import { RX_SAMPLE_MS, RxSampler } from "./_rx_sampler.ts";
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

const missing = await missingTool({ time: false });
const aria2Skipped = missing && `${missing} not installed (make bench-compare installs it)`;
if (aria2Skipped) console.log(`aria2 arm skipped: ${aria2Skipped}; shoal only`);

const bed = await Testbed.create("lan", ["t", "d", ...seederHosts, ...crowdHosts]);
if (typeof bed === "string") {
  console.log(bed);
  console.log(JSON.stringify({ lan: null, skipped: bed }));
  Deno.exit(0);
}
const testbed = bed;
const cases: LanCase[] = [];
/** Per client, each crowd run: completion times and what the seeder's link carried (copies of the file). */
const crowd = { shoal: { runs: [], seederCopies: [] }, aria2: { runs: [], seederCopies: [] } } as {
  shoal: LanCrowdRuns;
  aria2: LanCrowdRuns;
};
/** Per client, each crowd run's received-bytes series. */
const rxRuns: { shoal: RxSeries[][]; aria2: RxSeries[][] } = { shoal: [], aria2: [] };

/** A shoal flash crowd on `crowdHosts`, sampled; returns the completion times, ascending. */
async function shoalCrowd(swarm: BenchSwarm, name: string): Promise<number[]> {
  const ds = [];
  for (const h of crowdHosts) ds.push(await swarm.downloader(h));
  const froms = ds.map((d) => d.proc.stdout.lines().length);
  const sampler = await RxSampler.start(testbed, crowdHosts);
  await Promise.all(ds.map((d) => swarm.startDownload(d, name)));
  const times = await Promise.all(
    ds.map((d, i) =>
      swarm.downloadEnded(d, froms[i]!).then(() => (performance.now() - sampler.t0) / 1000)
    ),
  );
  rxRuns.shoal.push(await sampler.stop());
  for (const d of ds) await swarm.dropDownloader(d);
  return times.sort((a, b) => a - b);
}

/** The same crowd of aria2c downloaders. */
async function aria2Crowd(a2: Aria2Lan): Promise<number[]> {
  const sampler = await RxSampler.start(testbed, crowdHosts);
  const times = await a2.download(crowdHosts, sampler.t0);
  rxRuns.aria2.push(await sampler.stop());
  return times.sort((a, b) => a - b);
}

/** `arms` in turn, shoal first in odd runs and aria2 first in even ones. */
async function alternate(r: number, arms: (() => Promise<void>)[]): Promise<void> {
  for (const arm of r % 2 === 0 ? arms : [...arms].reverse()) await arm();
}

try {
  const link = (up: string, down: string): { up: Shape; down: Shape } => ({
    up: { rate: up },
    down: { rate: down },
  });
  for (const s of seederHosts) await bed.shape(s, link(SEEDER_UP, DOWN));
  for (const c of crowdHosts) await bed.shape(c, link(CROWD_UP, DOWN));
  await bed.shape("d", link(DOWN, DOWN));
  const swarm = await BenchSwarm.start({ bed });
  let a2: Aria2Lan | undefined;
  try {
    const name = `lan${mib}.bin`;
    const path = `${swarm.dir}/${name}`;
    progress(`writing ${mib} MiB of random data`);
    await randomFile(path, mib);
    progress(`8 seeders upload ${name}`);
    await swarm.share(path, 8);
    if (!aria2Skipped) a2 = await Aria2Lan.start(bed, path, swarm.dir);
    const timed = async (label: string, k: number, perfect: number) => {
      await swarm.onlineSeeders(k);
      progress(`${label}: aria2c seeders hash and announce`);
      await a2?.seedOn(seederHosts.slice(0, k));
      const c: LanCase = { name: label, seconds: [], ideal: perfect, ...(a2 ? { aria2: [] } : {}) };
      for (let r = 0; r < runs; r++) {
        await alternate(r, [
          async () => {
            progress(`${label}: shoal run ${r + 1}/${runs}`);
            const d = await swarm.downloader("d");
            c.seconds.push((await swarm.download(d, name)).seconds);
            await swarm.dropDownloader(d);
          },
          async () => {
            if (!a2) return;
            progress(`${label}: aria2 run ${r + 1}/${runs}`);
            c.aria2!.push(...await a2.download(["d"]));
          },
        ]);
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
    await a2?.seedOn(["s1"]);
    const copies = async (into: LanCrowdRuns, run: () => Promise<number[]>) => {
      const sent0 = await bed.txBytes("s1");
      into.runs.push(await run());
      into.seederCopies.push((await bed.txBytes("s1") - sent0) / bytes);
    };
    for (let r = 0; r < (wanted.has("crowd") ? runs : 0); r++) {
      await alternate(r, [
        async () => {
          progress(`flash crowd of ${CROWD}: shoal run ${r + 1}/${runs}`);
          await copies(crowd.shoal, () => shoalCrowd(swarm, name));
        },
        async () => {
          if (!a2) return;
          progress(`flash crowd of ${CROWD}: aria2 run ${r + 1}/${runs}`);
          await copies(crowd.aria2, () => aria2Crowd(a2!));
        },
      ]);
    }
  } finally {
    await a2?.close();
    await swarm.close();
  }
} finally {
  await bed.destroy();
}
progress("");

/** The series of the run whose last completion is the median one. */
function medianRun(c: LanCrowdRuns, series: RxSeries[][]): RxSeries[] | undefined {
  const order = c.runs.map((r, i) => [r.at(-1)!, i] as const).sort((a, b) => a[0] - b[0]);
  const mid = order[Math.floor((order.length - 1) / 2)];
  return mid && series[mid[1]];
}

const crowdIdeal = ideal(rateBits(SEEDER_UP));
// The crowd's uplinks bound it too: CROWD copies must cross the seeder's and the crowd's uplinks.
const crowdBound = Math.max(
  crowdIdeal,
  CROWD * ideal(rateBits(SEEDER_UP) + CROWD * rateBits(CROWD_UP)),
);
const ratio = (a: number[] | undefined, s: number[]) =>
  a?.length ? `${(medianMinMax(a).median / medianMinMax(s).median).toFixed(2)}×` : "-";
console.log(
  `LAN benchmark: ${mib} MiB, ${runs} runs per case; seeders ${SEEDER_UP} up, downloader ${DOWN} down; median (min-max)`,
);
if (cases.length) {
  console.log(
    "case                 shoal s              aria2 s              aria2÷shoal  ideal s  shoal of ideal",
  );
}
for (const c of cases) {
  const m = medianMinMax(c.seconds);
  const a = c.aria2?.length ? mmm(medianMinMax(c.aria2), 2) : "-";
  console.log(
    `${c.name.padEnd(21)}${mmm(m, 2).padEnd(21)}${a.padEnd(21)}${
      ratio(c.aria2, c.seconds).padEnd(13)
    }${c.ideal.toFixed(2).padEnd(9)}${(100 * c.ideal / m.median).toFixed(0)}%`,
  );
}
for (const [client, cr] of Object.entries(crowd)) {
  if (!cr.runs.length) continue;
  const lm = medianMinMax(cr.runs.map((r) => r.at(-1)!));
  const fm = medianMinMax(cr.runs.map((r) => r[0]!));
  console.log(
    `flash crowd of ${CROWD} (${CROWD_UP} up each), ${client}: first done ${mmm(fm, 2)} s, last ${
      mmm(lm, 2)
    } s; size ÷ seeder uplink ${crowdIdeal.toFixed(2)} s (last: ${
      (lm.median / crowdIdeal).toFixed(2)
    }×); bound of all uplinks ${crowdBound.toFixed(2)} s (${
      (lm.median / crowdBound).toFixed(2)
    }×); the seeder sent ${mmm(medianMinMax(cr.seederCopies), 2)} copies`,
  );
}
if (crowd.shoal.runs.length && crowd.aria2.runs.length) {
  const last = (c: LanCrowdRuns) => c.runs.map((r) => r.at(-1)!);
  console.log(
    `flash crowd: aria2's last ÷ shoal's last = ${
      ratio(last(crowd.aria2), last(crowd.shoal))
    } (goal ≥ 1.5×)`,
  );
}
const rateShoal = medianRun(crowd.shoal, rxRuns.shoal);
const rateAria2 = medianRun(crowd.aria2, rxRuns.aria2);
const out: LanJson = {
  lan: {
    mib,
    runs,
    cases,
    crowd: {
      ideal: crowdIdeal,
      bound: crowdBound,
      ...crowd.shoal,
      ...(crowd.aria2.runs.length ? { aria2: crowd.aria2 } : {}),
      ...(rateShoal
        ? {
          rate: {
            intervalMs: RX_SAMPLE_MS,
            shoal: rateShoal,
            ...(rateAria2 ? { aria2: rateAria2 } : {}),
          },
        }
        : {}),
    },
    aria2: aria2Skipped ? { skipped: aria2Skipped } : { settings: ARIA2_LAN_SETTINGS },
  },
};
console.log(JSON.stringify(out));
