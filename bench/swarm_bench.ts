/**
 * `deno task bench:swarm [--quick] [--sizes 64,1024] [--seeders 1,2,4]`: real
 * trackers and peers on loopback. For each file size and seeder count it
 * prints the time from the download command to the verified file, MB/s, and
 * the downloader's peak RSS and CPU seconds.
 */
import {
  downloadBenchOptions,
  printRows,
  progress,
  randomFile,
  type Row,
} from "./_download_bench.ts";
import { cpuSeconds, freePort, peakRssMiB, Proc } from "../demo/procs.ts";

const { sizesMiB, seederCounts, runs } = downloadBenchOptions(Deno.args);
const maxSeeders = Math.max(...seederCounts);

const dir = await Deno.makeTempDir({ prefix: "shoal-bench-" });
const procs: Proc[] = [];
const rows: Row[] = [];
try {
  const tp = [freePort(), freePort()];
  const info = `${dir}/tracker_info.txt`;
  await Deno.writeTextFile(info, `127.0.0.1:${tp[0]}\n127.0.0.1:${tp[1]}\n`);
  const trackerArgs = (
    n: number,
  ) => ["tracker", info, String(n), "--data-dir", `${dir}/t${n}`, "--cluster-key", `${dir}/key`];
  const t1 = new Proc(trackerArgs(1));
  procs.push(t1);
  await t1.waitFor(/now primary/);
  const t2 = new Proc(trackerArgs(2));
  procs.push(t2);
  await t2.waitFor(/Caught up/);

  const seeders: Proc[] = [];
  for (let i = 1; i <= maxSeeders; i++) {
    const p = new Proc(["peer", `127.0.0.1:${freePort()}`, info, "--state-dir", `${dir}/s${i}`]);
    procs.push(p);
    seeders.push(p);
    await p.send(`create_user s${i} pw`);
    await p.send(`login s${i} pw`);
    await p.waitFor(/logged in as/);
    if (i === 1) {
      await p.send("create_group g1");
      await p.waitFor(/created group g1/);
    } else {
      await p.send("join_group g1");
      await p.waitFor(/requested to join/);
      await seeders[0]!.send(`accept_request g1 s${i}`);
      await seeders[0]!.waitFor(new RegExp(`accepted s${i}`));
    }
  }
  let dlUser = 0;
  for (const mib of sizesMiB) {
    const name = `file${mib}.bin`;
    progress(`writing ${mib} MiB of random data`);
    await randomFile(`${dir}/${name}`, mib);
    for (const [i, s] of seeders.entries()) {
      progress(`seeder ${i + 1} shares ${name}`);
      const from = s.lines.length;
      await s.send(`upload_file ${dir}/${name} g1`);
      await s.waitFor(/^shared |^error:/, 300_000, from);
    }
    for (const k of seederCounts) {
      // Only the first k seeders are logged in; the others' offers are withdrawn.
      for (const [i, s] of seeders.entries()) {
        const from = s.lines.length;
        if (i < k) {
          await s.send(`login s${i + 1} pw`);
          await s.waitFor(/logged in as|error:/, 60_000, from);
        } else {
          await s.send("logout");
          await s.waitFor(/logged out|error:/, 60_000, from);
        }
      }
      const row: Row = { sizeMiB: mib, seeders: k, seconds: [], rss: [], cpu: [] };
      rows.push(row);
      for (let r = 0; r < runs; r++) {
        progress(`${mib} MiB from ${k} seeder(s), run ${r + 1}/${runs}`);
        const u = `d${++dlUser}`;
        const dest = `${dir}/dl_${u}`;
        await Deno.mkdir(dest);
        const d = new Proc(["peer", `127.0.0.1:${freePort()}`, info, "--state-dir", `${dir}/${u}`]);
        procs.push(d);
        await d.send(`create_user ${u} pw`);
        await d.send(`login ${u} pw`);
        await d.send("join_group g1");
        await d.waitFor(/requested to join/);
        await seeders[0]!.send(`accept_request g1 ${u}`);
        await seeders[0]!.waitFor(new RegExp(`accepted ${u}`));
        await new Promise((res) => setTimeout(res, 300)); // let the worker pool warm up
        const cpu0 = cpuSeconds(d.pid);
        const from = d.lines.length;
        const t0 = performance.now();
        await d.send(`download_file g1 ${name} ${dest}`);
        const line = await d.waitFor(/download of .* (complete|failed)/, 600_000, from);
        const secs = (performance.now() - t0) / 1000;
        if (line.includes("failed")) throw new Error(line);
        row.seconds.push(secs);
        row.cpu.push(cpuSeconds(d.pid) - cpu0);
        row.rss.push(peakRssMiB(d.pid));
        await d.stop();
        procs.splice(procs.indexOf(d), 1);
        await Deno.remove(dest, { recursive: true });
      }
    }
    await Deno.remove(`${dir}/${name}`);
  }
  progress("");
  printRows("swarm benchmark", "swarm", runs, rows);
} finally {
  for (const p of procs) await p.stop();
  await Deno.remove(dir, { recursive: true });
}
