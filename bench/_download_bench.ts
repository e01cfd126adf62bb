/**
 * What the download benchmarks share: random test files, the progress line
 * and the printed table of result rows.
 */
import { mmm, type Row } from "./_results.ts";
import { medianMinMax } from "./_stats.ts";

/** Rewrites the progress line on stderr. */
export function progress(s: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`\r\x1b[K${s}`));
}

/** Writes `mib` MiB (a fraction is fine) from /dev/urandom to `path`, through to the disk. */
export async function randomFile(path: string, mib: number): Promise<void> {
  using src = await Deno.open("/dev/urandom");
  using dst = await Deno.open(path, { write: true, create: true, truncate: true });
  const buf = new Uint8Array(1024 * 1024);
  for (let left = Math.round(mib * 1024 * 1024); left > 0;) {
    const chunk = buf.subarray(0, Math.min(left, buf.length));
    let off = 0;
    while (off < chunk.length) off += (await src.read(chunk.subarray(off)))!;
    for (let w = 0; w < chunk.length;) w += await dst.write(chunk.subarray(w));
    left -= chunk.length;
  }
  // On disk before any download starts, as a shared file normally is: else the
  // kernel writes it back (after 30 s) while later downloads are measured.
  await dst.syncData();
}

/** Prints the rows as a table: median (min-max) of the runs. */
export function printRows(title: string, rows: Row[]): void {
  const med = (a: number[]) => medianMinMax(a).median;
  const fmt = (a: number[], d: number) => mmm(medianMinMax(a), d);
  console.log(
    `${title}: median (min-max) of the runs; machine: ${navigator.hardwareConcurrency} cores`,
  );
  console.log("size      seeders  runs  time s               MB/s    peak RSS MiB        CPU s");
  for (const r of rows) {
    const mbps = (r.sizeMiB * 1048576) / 1e6 / med(r.seconds);
    console.log(
      `${`${r.sizeMiB} MiB`.padEnd(10)}${String(r.seeders).padEnd(9)}` +
        `${String(r.seconds.length).padEnd(6)}${fmt(r.seconds, 2).padEnd(21)}` +
        `${mbps.toFixed(0).padEnd(8)}${fmt(r.rss, 0).padEnd(20)}${fmt(r.cpu, 2)}`,
    );
  }
}
