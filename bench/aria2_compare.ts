/**
 * `deno run --allow-all bench/aria2_compare.ts [--quick] [--scale <f>] [--max-runs <n>]`:
 * the swarm benchmark's downloads (the `aria2` cells of bench/_plans.ts: file sizes and
 * seeder counts) done by aria2c instead of shoal, with a local opentracker, all on loopback.
 * For each cell it prints the time from the start of the downloading aria2c to its exit
 * (file complete and hash-checked), MB/s, and the downloader's peak RSS and CPU seconds.
 * The last line is JSON shaped like swarm_bench.ts's rows.
 */
import { parseArgs } from "node:util";
import { printRows, progress, randomFile } from "./_download_bench.ts";
import type { Row } from "./_results.ts";
import { PLAN_OPTIONS, planFromArgs } from "./_plans.ts";
import { freePort } from "../tests/harness/ports.ts";
import { stopChild } from "../tests/harness/process.ts";
import {
  makeTorrent,
  missingTool,
  sha1File,
  startSeeder,
  timedDownload,
  Tracker,
} from "./_aria2.ts";

const { values } = parseArgs({ args: Deno.args, options: PLAN_OPTIONS });
const cells = planFromArgs(values).aria2;

const missing = await missingTool();
if (missing) {
  const why = `${missing} not installed (make bench-compare installs them)`;
  console.log(`aria2 comparison skipped: ${why}`);
  console.log(JSON.stringify({ aria2: null, skipped: why }));
  Deno.exit(0);
}

const ports = () => ({ listenPort: freePort(), dhtPort: freePort() });
const dir = await Deno.makeTempDir({ prefix: "shoal-aria2-" });
const seeders: Deno.ChildProcess[] = [];
let tracker: Tracker | undefined;
const rows: Row[] = [];
let dlCount = 0;
try {
  for (const mib of new Set(cells.map((c) => c.mib))) {
    const name = `file${mib}.bin`;
    const original = `${dir}/${name}`;
    const torrent = `${dir}/file${mib}.torrent`;
    progress(`writing ${mib} MiB of random data`);
    await randomFile(original, mib);
    const sha1 = await sha1File(original);
    // opentracker reads its whitelist at start, so each size gets a fresh tracker.
    const trackerDir = `${dir}/tracker${mib}`;
    await Deno.mkdir(trackerDir);
    const port = freePort();
    const infoHash = await makeTorrent(original, torrent, `http://127.0.0.1:${port}/announce`);
    await Deno.writeTextFile(`${trackerDir}/whitelist.txt`, `${infoHash}\n`);
    tracker = await Tracker.start(trackerDir, port);

    for (const { seeders: k, runs } of cells.filter((c) => c.mib === mib)) {
      while (seeders.length > k) await stopChild(seeders.pop()!);
      while (seeders.length < k) {
        const seedDir = `${dir}/seed${mib}_${seeders.length + 1}`;
        await Deno.mkdir(seedDir);
        await Deno.link(original, `${seedDir}/${name}`);
        seeders.push(startSeeder(torrent, seedDir, ports()));
      }
      progress(`${mib} MiB: waiting for ${k} aria2c seeder(s) to hash and announce`);
      await tracker.waitForSeeders(infoHash, k);
      const row: Row = { sizeMiB: mib, seeders: k, seconds: [], rss: [], cpu: [] };
      rows.push(row);
      for (let r = 0; r < runs; r++) {
        progress(`${mib} MiB from ${k} aria2c seeder(s), run ${r + 1}/${runs}`);
        const dest = `${dir}/dl${++dlCount}`;
        await Deno.mkdir(dest);
        const res = await timedDownload(torrent, dest, ports());
        const got = await sha1File(`${dest}/${name}`);
        if (got !== sha1) throw new Error(`Downloaded ${name} has SHA-1 ${got}, expected ${sha1}`);
        row.seconds.push(res.seconds);
        row.rss.push(res.rssMiB);
        row.cpu.push(res.cpuSeconds);
        await Deno.remove(dest, { recursive: true });
      }
    }
    while (seeders.length > 0) await stopChild(seeders.pop()!);
    await tracker.stop();
    tracker = undefined;
    for await (const e of Deno.readDir(dir)) {
      await Deno.remove(`${dir}/${e.name}`, { recursive: true });
    }
  }
  progress("");
  printRows("aria2 benchmark", rows);
  console.log(JSON.stringify({ aria2: rows }));
} finally {
  progress("");
  for (const s of seeders) await stopChild(s);
  await tracker?.stop();
  await Deno.remove(dir, { recursive: true });
}
