/**
 * What the download benchmarks share: random test files, the progress line
 * and the printed table of result rows.
 */
import { mmm, type Row } from "./_results.ts";
import { medianMinMax } from "./_stats.ts";
import { writeRandomFile } from "../tests/harness/files.ts";

/** Rewrites the progress line on stderr. */
export function progress(s: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`\r\x1b[K${s}`));
}

/** Writes `mib` MiB (a fraction is fine) of random bytes to `path`, through to the disk. */
export async function randomFile(path: string, mib: number): Promise<void> {
  await writeRandomFile(path, Math.round(mib * 1024 * 1024), { sync: true });
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
