/**
 * What the swarm benchmark and the aria2 comparison share: their options,
 * random test files, the result rows and the printed table.
 */
import { parseArgs } from "node:util";

/** One file size and seeder count, with a figure per run. */
export interface Row {
  sizeMiB: number;
  seeders: number;
  seconds: number[];
  rss: number[];
  cpu: number[];
}

/** `--quick`, `--sizes 64,1024`, `--seeders 1,2,4`, `--runs 3`. */
export function downloadBenchOptions(args: string[]): {
  sizesMiB: number[];
  seederCounts: number[];
  runs: number;
} {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean" },
      sizes: { type: "string" },
      seeders: { type: "string" },
      runs: { type: "string" },
    },
  });
  return {
    sizesMiB: (values.sizes ?? (values.quick ? "64" : "64,1024")).split(",").map(Number),
    seederCounts: (values.seeders ?? (values.quick ? "1,2" : "1,2,4")).split(",").map(Number),
    runs: Number(values.runs ?? (values.quick ? 1 : 3)),
  };
}

/** Rewrites the progress line on stderr. */
export function progress(s: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`\r\x1b[K${s}`));
}

/** Writes `mib` MiB from /dev/urandom to `path`. */
export async function randomFile(path: string, mib: number): Promise<void> {
  using src = await Deno.open("/dev/urandom");
  using dst = await Deno.open(path, { write: true, create: true, truncate: true });
  const buf = new Uint8Array(1024 * 1024);
  for (let i = 0; i < mib; i++) {
    let off = 0;
    while (off < buf.length) off += (await src.read(buf.subarray(off)))!;
    for (let w = 0; w < buf.length;) w += await dst.write(buf.subarray(w));
  }
}

/** Prints the rows as a table (median, min-max) and then as one JSON line under `key`. */
export function printRows(title: string, key: string, runs: number, rows: Row[]): void {
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  const fmt = (a: number[], d: number) =>
    `${med(a).toFixed(d)} (${Math.min(...a).toFixed(d)}-${Math.max(...a).toFixed(d)})`;
  console.log(
    `${title}: ${runs} run(s) each, median (min-max); machine: ${navigator.hardwareConcurrency} cores`,
  );
  console.log("size      seeders  time s               MB/s    peak RSS MiB        CPU s");
  for (const r of rows) {
    const mbps = (r.sizeMiB * 1048576) / 1e6 / med(r.seconds);
    console.log(
      `${`${r.sizeMiB} MiB`.padEnd(10)}${String(r.seeders).padEnd(9)}` +
        `${fmt(r.seconds, 2).padEnd(21)}${mbps.toFixed(0).padEnd(8)}` +
        `${fmt(r.rss, 0).padEnd(20)}${fmt(r.cpu, 2)}`,
    );
  }
  console.log(JSON.stringify({ [key]: rows }));
}
