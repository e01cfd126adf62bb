/**
 * `deno task bench:swarm [--quick] [--scale <f>] [--max-runs <n>]`: real
 * trackers and peers on loopback, with the file sizes, seeder counts and
 * flash crowd of bench/_plans.ts. It prints the time of each `upload_file`
 * (hashing and registering, from the command to its "shared" line), the time
 * from the download command to the verified file with MB/s and the
 * downloader's peak RSS and CPU seconds, and each crowd downloader's
 * completion time; the last line is JSON.
 */
import { parseArgs } from "node:util";
import { printRows, progress, randomFile } from "./_download_bench.ts";
import type { Crowd, Row, Uploads } from "./_results.ts";
import { type Cell, PLAN_OPTIONS, planFromArgs, swarmCells } from "./_plans.ts";
import { BenchSwarm } from "./_swarm.ts";

const { values } = parseArgs({ args: Deno.args, options: PLAN_OPTIONS });
const plan = planFromArgs(values);
const cells = swarmCells(plan);
const sizes = [...new Set([...plan.sizes.map((s) => s.mib), plan.peers.mib, plan.crowd.mib])];

/** Runs the download cells of one file. */
async function downloads(
  swarm: BenchSwarm,
  name: string,
  list: Cell[],
  rows: Row[],
): Promise<void> {
  for (const c of list) {
    await swarm.onlineSeeders(c.seeders);
    const row: Row = { sizeMiB: c.mib, seeders: c.seeders, seconds: [], rss: [], cpu: [] };
    rows.push(row);
    for (let r = 0; r < c.runs; r++) {
      progress(`${c.mib} MiB from ${c.seeders} seeder(s), run ${r + 1}/${c.runs}`);
      const d = await swarm.downloader();
      const t = await swarm.download(d, name);
      row.seconds.push(t.seconds);
      row.cpu.push(t.cpu);
      row.rss.push(t.rss);
      await swarm.dropDownloader(d);
    }
  }
}

const swarm = await BenchSwarm.start();
const rows: Row[] = [];
const uploads: Uploads[] = [];
const crowd: Crowd = { mib: plan.crowd.mib, downloaders: plan.crowd.downloaders, runs: [] };
try {
  for (const mib of sizes) {
    const name = `file${mib}.bin`;
    const path = `${swarm.dir}/${name}`;
    progress(`writing ${mib} MiB of random data`);
    await randomFile(path, mib);
    const list = cells.filter((c) => c.mib === mib);
    const size = plan.sizes.find((s) => s.mib === mib);
    const count = Math.max(size?.uploads ?? 1, ...list.map((c) => c.seeders));
    progress(`${count} seeder(s) upload ${name}`);
    uploads.push({ mib, seconds: await swarm.share(path, count) });
    await downloads(swarm, name, list, rows);
    if (mib === plan.crowd.mib) {
      await swarm.onlineSeeders(1);
      for (let r = 0; r < plan.crowd.runs; r++) {
        progress(`flash crowd: ${crowd.downloaders} downloaders of ${mib} MiB, run ${r + 1}`);
        crowd.runs.push(await swarm.crowd(name, crowd.downloaders));
      }
    }
    await Deno.remove(path);
  }
  progress("");
  printRows("swarm benchmark", rows);
  for (const u of uploads) {
    console.log(`upload_file ${u.mib} MiB: ${u.seconds.map((s) => s.toFixed(2)).join(", ")} s`);
  }
  for (const times of crowd.runs) {
    console.log(`crowd of ${crowd.downloaders}: ${times.map((s) => s.toFixed(2)).join(", ")} s`);
  }
  console.log(JSON.stringify({ swarm: rows, uploads, crowd }));
} finally {
  await swarm.close();
}
