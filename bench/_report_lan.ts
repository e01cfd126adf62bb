/** The report's "On a shaped LAN" section, from bench/lan_bench.ts. */
import { medianMinMax } from "./_stats.ts";
import { type LanJson, mmm, type Part } from "./_results.ts";

/** The section's lines. */
export function lanSection(part: Part<LanJson>): string[] {
  const lan = part.data?.lan;
  if (!lan) {
    return [
      `Not measured: ${part.data?.skipped ?? `the LAN benchmark did not run (${part.note})`}.`,
    ];
  }
  const lines = [
    `\`deno task bench:lan\`: every peer and the tracker pair on a host of its own (a network namespace on a bridge, tests/harness/netns.ts), each link shaped with tc tbf in both directions: seeders 200 Mbit/s up and 1 Gbit/s down, the downloader 1 Gbit/s both ways, a crowd downloader 100 Mbit/s up and 1 Gbit/s down. ${lan.mib} MiB, ${lan.runs} runs per case. This kernel has no sch_netem, so no delay or loss is added (the veth RTT is well under 1 ms). Ideal = size ÷ min(the seeders' uplinks, the downloader's downlink).`,
    "",
    "| case | time s | ideal s | of ideal |",
    "| --- | --- | --- | --- |",
  ];
  for (const c of lan.cases) {
    const m = medianMinMax(c.seconds);
    lines.push(
      `| ${c.name} | ${mmm(m, 2)} | ${c.ideal.toFixed(2)} | ${
        (100 * c.ideal / m.median).toFixed(0)
      }% |`,
    );
  }
  const cr = lan.crowd;
  if (cr.runs.length) {
    const last = medianMinMax(cr.runs.map((r) => r.at(-1)!));
    const first = medianMinMax(cr.runs.map((r) => r[0]!));
    lines.push(
      "",
      `Flash crowd: one seeder, ${
        cr.runs[0]!.length
      } downloaders given the download command together. First done ${mmm(first, 2)} s, last done ${
        mmm(last, 2)
      } s. Size ÷ the seeder's uplink is ${cr.ideal.toFixed(2)} s (last: ${
        (last.median / cr.ideal).toFixed(2)
      }×; client-server would be ${cr.runs[0]!.length}×), but the crowd's uplinks bound it first: ${
        cr.runs[0]!.length
      } copies must cross the seeder's and the downloaders' uplinks together, ${
        cr.bound.toFixed(2)
      } s (last: ${(last.median / cr.bound).toFixed(2)}×). The seeder's link carried ${
        mmm(medianMinMax(cr.seederCopies), 2)
      } copies of the file per run.`,
    );
  }
  return lines;
}
