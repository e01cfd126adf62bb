/** The report's "On a shaped LAN" section, from bench/lan_bench.ts: shoal and aria2 side by side. */
import type * as vl from "vega-lite";
import { rangePanels, type RangePoint } from "./_charts.ts";
import { crowdBarsChart, crowdRateChart } from "./_lan_charts.ts";
import { medianMinMax } from "./_stats.ts";
import { type LanCrowdRuns, type LanJson, mmm, type Part, type RxSeries } from "./_results.ts";

type Lan = NonNullable<LanJson["lan"]>;

/** Each client's crowd runs that were measured, shoal first. */
function crowdClients(lan: Lan): Record<string, LanCrowdRuns> {
  const cr = lan.crowd;
  const out: Record<string, LanCrowdRuns> = {};
  if (cr.runs.length) out.shoal = cr;
  if (cr.aria2?.runs.length) out.aria2 = cr.aria2;
  return out;
}

/** The LAN charts: MB/s against seeders with the ideal; the crowd's completion times and MB/s over time. */
export function lanCharts(lan: Lan): [string, vl.TopLevelSpec][] {
  const mb = lan.mib * 1048576 / 1e6;
  const points: RangePoint[] = [];
  const rate = (series: string, x: number, seconds: number[]) => {
    const s = medianMinMax(seconds);
    points.push({
      series,
      x,
      panel: "MB/s",
      median: mb / s.median,
      min: mb / s.max,
      max: mb / s.min,
    });
  };
  for (const c of lan.cases) {
    const n = /^(\d+) seeder/.exec(c.name)?.[1];
    if (!n) continue;
    const x = Number(n);
    rate("shoal", x, c.seconds);
    if (c.aria2?.length) rate("aria2", x, c.aria2);
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
  const clients = crowdClients(lan);
  const n = lan.crowd.runs[0]?.length ?? 0;
  if (Object.keys(clients).length) {
    out.push([
      "perf_lan_crowd.svg",
      crowdBarsChart(
        clients,
        { seconds: lan.crowd.bound, label: "ideal: bound of all uplinks" },
        `Shaped LAN: flash crowd of ${n} (100 Mbit/s up) on one 200 Mbit/s seeder, ${lan.mib} MiB`,
      ),
    ]);
  }
  const r = lan.crowd.rate;
  if (r) {
    const series: Record<string, RxSeries[]> = { shoal: r.shoal };
    if (r.aria2) series.aria2 = r.aria2;
    out.push([
      "perf_lan_crowd_rate.svg",
      crowdRateChart(series, {
        title: `Shaped LAN flash crowd: each downloader's MB/s over time, ${lan.mib} MiB`,
        intervalMs: r.intervalMs,
      }),
    ]);
  }
  return out;
}

const pct = (ideal: number, seconds: number) => `${(100 * ideal / seconds).toFixed(0)}%`;

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
  const a2 = lan.aria2;
  const arm = !a2
    ? "shoal only (these results are from before the aria2 arm)."
    : "skipped" in a2
    ? `shoal only: the aria2 arm did not run (${a2.skipped}).`
    : `shoal and aria2 on the same hosts and links, their runs alternating within each case. aria2: ${a2.settings}`;
  const lines = [
    `\`deno task bench:lan\`: every peer and each client's tracker on a host of its own (a network namespace on a bridge, tests/harness/netns.ts), each link shaped with tc tbf in both directions: seeders 200 Mbit/s up and 1 Gbit/s down, the downloader 1 Gbit/s both ways, a crowd downloader 100 Mbit/s up and 1 Gbit/s down. ${lan.mib} MiB, ${lan.runs} runs per case, median (min-max). Ideal = size ÷ min(the seeders' uplinks, the downloader's downlink). Measured: ${arm}`,
    "",
    "The cases with 20 ms RTT and 0.1% loss are not run: this kernel has no sch_netem (CONFIG_NET_SCH_NETEM is not set), and no sch_fq either (CONFIG_NET_SCH_FQ), so delay cannot be added with EDT timestamps instead; the veth RTT stays well under 1 ms.",
    "",
    "| case | shoal s | aria2 s | aria2 ÷ shoal | ideal s | shoal of ideal | aria2 of ideal |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  const byName = new Map(lan.cases.map((c) => [c.name, c]));
  for (const c of lan.cases) {
    const m = medianMinMax(c.seconds);
    const a = c.aria2?.length ? medianMinMax(c.aria2) : null;
    lines.push(
      `| ${c.name} | ${mmm(m, 2)} | ${a ? mmm(a, 2) : "-"} | ${
        a ? `${(a.median / m.median).toFixed(2)}×` : "-"
      } | ${c.ideal.toFixed(2)} | ${pct(c.ideal, m.median)} | ${
        a ? pct(c.ideal, a.median) : "-"
      } |`,
    );
  }
  const fast = byName.get("3 fast seeders"), slow = byName.get("3 fast + 1 slow");
  if (fast && slow) {
    const vs = (f?: number[], s?: number[]) =>
      f?.length && s?.length
        ? `${(medianMinMax(s).median / medianMinMax(f).median).toFixed(2)}×`
        : "-";
    lines.push(
      "",
      `A 4th seeder at 20 Mbit/s beside 3 at 200 Mbit/s: shoal takes ${
        vs(fast.seconds, slow.seconds)
      } the time of the 3 alone, aria2 ${vs(fast.aria2, slow.aria2)} (ideal ${
        (slow.ideal / fast.ideal).toFixed(2)
      }×).`,
    );
  }
  lines.push(...crowdLines(lan));
  lines.push(
    "",
    ...img(
      "perf_lan_seeders.svg",
      "MB/s against seeders on the shaped LAN, shoal and aria2, with the ideal",
    ),
    ...img(
      "perf_lan_crowd.svg",
      "completion time of each downloader of the LAN flash crowd, shoal and aria2, with the ideal",
    ),
  );
  if (lan.crowd.rate) {
    lines.push(
      ...img(
        "perf_lan_crowd_rate.svg",
        "MB/s over time of each downloader of the LAN flash crowd, shoal and aria2",
      ),
    );
  }
  return lines;
}

/** The flash crowd's paragraph and table. */
function crowdLines(lan: Lan): string[] {
  const cr = lan.crowd;
  const clients = crowdClients(lan);
  if (!Object.keys(clients).length) return [];
  const n = cr.runs[0]?.length ?? cr.aria2?.runs[0]?.length ?? 0;
  const goal = 1.3 * cr.ideal;
  const lines = [
    "",
    `Flash crowd: one seeder, ${n} downloaders given the download command together. Size ÷ the seeder's uplink is ${
      cr.ideal.toFixed(2)
    } s (client-server would be ${n}× that), but the crowd's uplinks bound it first: ${n} copies must cross the seeder's and the downloaders' uplinks together, ${
      cr.bound.toFixed(2)
    } s. So the issue's goal for the last one, ≤ 1.3 × size ÷ the seeder's uplink = ${
      goal.toFixed(2)
    } s, is below the physical bound (${cr.bound.toFixed(2)} s > ${
      goal.toFixed(2)
    } s) and cannot be met on these links.`,
    "",
    "| client | first done s | last done s | last ÷ bound | seeder's link carried, copies |",
    "| --- | --- | --- | --- | --- |",
  ];
  const last = (c: LanCrowdRuns) => medianMinMax(c.runs.map((r) => r.at(-1)!));
  for (const [client, c] of Object.entries(clients)) {
    const l = last(c);
    lines.push(
      `| ${client} | ${mmm(medianMinMax(c.runs.map((r) => r[0]!)), 2)} | ${mmm(l, 2)} | ${
        (l.median / cr.bound).toFixed(2)
      }× | ${mmm(medianMinMax(c.seederCopies), 2)} |`,
    );
  }
  if (cr.rate) {
    const start = (series: RxSeries[] | undefined) => {
      const firsts = (series ?? []).map((x) => x.t[x.bytes.findIndex((b) => b >= 1048576)] ?? NaN);
      return firsts.length ? medianMinMax(firsts) : null;
    };
    const sh = start(cr.rate.shoal), a = start(cr.rate.aria2);
    lines.push(
      "",
      `In the sampled run a downloader had received its first MiB after ${
        sh ? mmm(sh, 2) : "-"
      } s with shoal${
        a
          ? `, ${
            mmm(a, 2)
          } s with aria2 (whose clock starts with the aria2c process; it announces and connects on one-second ticks)`
          : ""
      } (median and range over the downloaders).`,
    );
  }
  if (clients.shoal && clients.aria2) {
    const ratio = last(clients.aria2).median / last(clients.shoal).median;
    lines.push(
      "",
      `aria2's last downloader ÷ shoal's last: ${ratio.toFixed(2)}× (the issue's goal: ≥ 1.5×, ${
        ratio >= 1.5 ? "met" : "not met"
      }).`,
    );
  }
  return lines;
}
