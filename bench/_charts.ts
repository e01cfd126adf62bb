/**
 * Charts for the performance report: vega-lite specs compiled to vega and
 * rendered headless to SVG (no browser, no canvas).
 */
import * as vega from "vega";
import * as vl from "vega-lite";
import { medianMinMax } from "./_stats.ts";

/** One size/seeder cell of the swarm or aria2 benchmark, every run's sample. */
export interface SwarmRow {
  sizeMiB: number;
  seeders: number;
  seconds: number[];
  rss: number[];
  cpu: number[];
}

/** One throughput run of the tracker benchmark, as its JSON line has it. */
export interface TrackerThroughput {
  clients: number;
  ops_per_s: number;
  p50_ms: number;
  p99_ms: number;
}

/** A swarm measure that can be charted against file size and seeders. */
export type SwarmMetric = "time s" | "MB/s" | "peak RSS MiB" | "CPU s";

/** A chart point: the median with the spread of the runs. */
interface Point {
  tool: string;
  size: string;
  seeders: number;
  metric: string;
  median: number;
  min: number;
  max: number;
}

/** Compiles a vega-lite spec and renders it to an SVG document. */
export async function renderSvg(spec: vl.TopLevelSpec): Promise<string> {
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Median, min and max of one measure of a row (MB/s derives from the times). */
export function swarmStat(row: SwarmRow, metric: SwarmMetric): {
  median: number;
  min: number;
  max: number;
} {
  if (metric === "time s") return medianMinMax(row.seconds);
  if (metric === "peak RSS MiB") return medianMinMax(row.rss);
  if (metric === "CPU s") return medianMinMax(row.cpu);
  const mb = (row.sizeMiB * 1048576) / 1e6;
  return medianMinMax(row.seconds.map((s) => mb / s));
}

/** Human label of a file size in MiB. */
export function sizeLabel(mib: number): string {
  return mib >= 1024 && mib % 1024 === 0 ? `${mib / 1024} GiB` : `${mib} MiB`;
}

/**
 * A grid with one row per file size and one column per metric, each cell the
 * median (line) and min-max (rule) against the number of seeders, one colour
 * per tool. Cells are concatenated rather than faceted so each has its own axis.
 */
export function swarmChart(
  tools: Record<string, SwarmRow[]>,
  options: { metrics: SwarmMetric[]; title: string },
): vl.TopLevelSpec {
  const values: Point[] = [];
  for (const [tool, rows] of Object.entries(tools)) {
    for (const row of rows) {
      for (const metric of options.metrics) {
        const size = sizeLabel(row.sizeMiB);
        values.push({ tool, size, seeders: row.seeders, metric, ...swarmStat(row, metric) });
      }
    }
  }
  const sizes = [...new Set(Object.values(tools).flat().map((r) => r.sizeMiB))].sort((a, b) =>
    a - b
  );
  const x = {
    field: "seeders",
    type: "ordinal",
    title: "seeders",
    axis: { labelAngle: 0 },
  } as const;
  const color = { field: "tool", type: "nominal", title: null } as const;
  const cellSpec = (size: string, metric: string) => ({
    width: 200,
    height: 140,
    title: { text: `${size}: ${metric}`, baseline: "bottom", offset: 8 },
    data: { values: values.filter((v) => v.size === size && v.metric === metric) },
    layer: [
      {
        mark: { type: "rule", strokeWidth: 2, opacity: 0.6 },
        encoding: { x, y: { field: "min", type: "quantitative" }, y2: { field: "max" }, color },
      },
      {
        mark: { type: "line", point: true },
        encoding: {
          x,
          y: { field: "median", type: "quantitative", title: metric },
          color,
        },
      },
    ],
  });
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: options.title,
      subtitle: "line: median of the runs; vertical bar: min to max",
      fontSize: 15,
      anchor: "start",
      offset: 16,
    },
    vconcat: sizes.map((mib) => ({
      hconcat: options.metrics.map((m) => cellSpec(sizeLabel(mib), m)),
    })),
  } as vl.TopLevelSpec;
}

/** Tracker throughput and latency percentiles against the number of clients. */
export function trackerChart(
  series: { writes: TrackerThroughput[]; reads: TrackerThroughput[] },
): vl.TopLevelSpec {
  const values: { kind: string; clients: number; metric: string; value: number }[] = [];
  for (const [kind, runs] of Object.entries(series)) {
    for (const t of runs) {
      values.push({ kind, clients: t.clients, metric: "requests/s", value: t.ops_per_s });
      values.push({ kind, clients: t.clients, metric: "latency p50 ms", value: t.p50_ms });
      values.push({ kind, clients: t.clients, metric: "latency p99 ms", value: t.p99_ms });
    }
  }
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: "Tracker: replicated writes and reads by concurrent clients",
    data: { values },
    facet: {
      column: {
        field: "metric",
        type: "nominal",
        title: null,
        sort: ["requests/s", "latency p50 ms", "latency p99 ms"],
      },
    },
    spec: {
      width: 200,
      height: 160,
      mark: { type: "line", point: true },
      encoding: {
        x: { field: "clients", type: "ordinal", title: "clients", axis: { labelAngle: 0 } },
        y: { field: "value", type: "quantitative", title: null },
        color: { field: "kind", type: "nominal", title: null },
        tooltip: [{ field: "value" }],
      },
    },
    resolve: { scale: { y: "independent" } },
  };
}
