/**
 * Charts for the performance report: vega-lite specs compiled to vega and
 * rendered headless to SVG (no browser, no canvas). This file holds the
 * renderer and the two generic layouts; bench/_download_charts.ts and the
 * tracker chart below build on them.
 */
import * as vega from "vega";
import * as vl from "vega-lite";
import type { Spread, TrackerThroughput } from "./_results.ts";

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";
/** Size of one chart panel in pixels. */
const PANEL = { width: 240, height: 160 } as const;
/** Subtitle of every chart with a median and a min-max bar. */
export const RANGE_NOTE = "line or bar: median of the runs; thin vertical bar: min to max";

/** A chart point: one series at one x, the median with the spread of the runs. */
export interface RangePoint extends Spread {
  series: string;
  x: number;
  panel: string;
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

/** The chart title block. */
export function chartTitle(text: string, subtitle = RANGE_NOTE) {
  return { text, subtitle, fontSize: 15, anchor: "start", offset: 16 } as const;
}

/**
 * Side-by-side panels, one per entry of `panels`, each the median (line with
 * points) and min-max (rule) of every series against x, with its own y axis.
 * `log` lists the axes drawn on a log scale ("x" or a panel name for its y).
 */
export function rangePanels(
  points: RangePoint[],
  options: { title: string; xTitle: string; panels: string[]; log?: string[] },
): vl.TopLevelSpec {
  const log = new Set(options.log ?? []);
  const scale = (on: boolean) => on ? { type: "log" } as const : { zero: false } as const;
  const x = {
    field: "x",
    type: "quantitative",
    title: options.xTitle,
    scale: scale(log.has("x")),
    // Ticks at the measured x values only (file sizes, seeder counts).
    axis: { labelAngle: 0, values: [...new Set(points.map((p) => p.x))] },
  } as const;
  const color = { field: "series", type: "nominal", title: null } as const;
  const panel = (name: string) => ({
    ...PANEL,
    title: { text: name, baseline: "bottom", offset: 8 },
    data: { values: points.filter((p) => p.panel === name) },
    layer: [
      {
        mark: { type: "rule", strokeWidth: 2, opacity: 0.6 },
        encoding: {
          x,
          y: { field: "min", type: "quantitative", scale: scale(log.has(name)) },
          y2: { field: "max" },
          color,
        },
      },
      {
        mark: { type: "line", point: true },
        encoding: { x, y: { field: "median", type: "quantitative", title: name }, color },
      },
    ],
  });
  return {
    $schema: SCHEMA,
    title: chartTitle(options.title),
    hconcat: options.panels.map(panel),
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
    $schema: SCHEMA,
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
