/** The report's "On a shaped LAN" section, from bench/lan_bench.ts. */
import type * as vl from "vega-lite";
import { rangePanels, type RangePoint } from "./_charts.ts";
import { crowdChart } from "./_download_charts.ts";
import { medianMinMax } from "./_stats.ts";
import { type LanJson, mmm, type Part } from "./_results.ts";

/** The LAN charts: MB/s against seeders with the ideal, and the crowd's completion times. */
export function lanCharts(lan: NonNullable<LanJson["lan"]>): [string, vl.TopLevelSpec][] {
  const mb = lan.mib * 1048576 / 1e6;
  const points: RangePoint[] = [];
  for (const c of lan.cases) {
    const n = /^(\d+) seeder/.exec(c.name)?.[1];
    if (!n) continue;
    const s = medianMinMax(c.seconds);
    const x = Number(n);
    points.push({
      series: "shoal",
      x,
      panel: "MB/s",
      median: mb / s.median,
      min: mb / s.max,
      max: mb / s.min,
    });
    const ideal = mb / c.ideal;
    points.push({ series: "ideal", x, panel: "MB/s", median: ideal, min: ideal, max: ideal });
  }
  const out: [string, vl.TopLevelSpec][] = [];
  if (points.length) {
    out.push([
      "perf_lan_seeders.svg",
      rangePanels(points, {
        title: `Shaped LAN: ${lan.mib} MiB from n seeders of 200 Mbit/s into a 1 Gbit/s downlink`,
        xTitle: "seeders",
        panels: ["MB/s"],
      }),
    ]);
  }
  const cr = lan.crowd;
  if (cr.runs.length) {
    const n = cr.runs[0]!.length;
    out.push([
      "perf_lan_crowd.svg",
      crowdChart(
        { mib: lan.mib, downloaders: n, runs: cr.runs },
        `${lan.mib} MiB`,
        cr.bound,
        {
          reference: "bound of all uplinks",
          title: `Shaped LAN: flash crowd of ${n} (100 Mbit/s up) on one 200 Mbit/s seeder`,
        },
      ),
    ]);
  }
  return out;
}

/** The section's lines. */
export function lanSection(
  part: Part<LanJson>,
  img: (name: string, alt: string) => string[],
): string[] {
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
  lines.push(
    "",
    ...img("perf_lan_seeders.svg", "MB/s against seeders on the shaped LAN, with the ideal"),
    ...img("perf_lan_crowd.svg", "completion time of each downloader of the LAN flash crowd"),
  );
  return lines;
}
