/**
 * One arm of an A/B run (bench/tls_cost_bench.ts): `<runs> <MiB>` downloads
 * of one file from one seeder, each by a fresh downloader, printed as one
 * JSON line of seconds, downloader CPU-s and peak RSS MiB. Kept to what
 * bench/_swarm.ts offered before TLS, so that it runs in an older checkout too.
 */
import { randomFile } from "./_download_bench.ts";
import { BenchSwarm as Swarm } from "./_swarm.ts";
const runs = Number(Deno.args[0] ?? "3");
const mib = Number(Deno.args[1] ?? "1024");
const swarm = await Swarm.start();
try {
  const name = `file${mib}.bin`;
  const path = `${swarm.dir}/${name}`;
  await randomFile(path, mib);
  await swarm.share(path, 1);
  await swarm.onlineSeeders(1);
  const out = { seconds: [] as number[], cpu: [] as number[], rss: [] as number[] };
  for (let r = 0; r < runs; r++) {
    const d = await swarm.downloader();
    const t = await swarm.download(d, name);
    out.seconds.push(t.seconds);
    out.cpu.push(t.cpu);
    out.rss.push(t.rss);
    await swarm.dropDownloader(d);
  }
  console.log(JSON.stringify(out));
} finally {
  await swarm.close();
}
