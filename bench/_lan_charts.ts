/**
 * The LAN flash crowd's charts, shoal against aria2: each downloader's
 * completion time with the bound, and each downloader's MB/s over time.
 */
import type * as vl from "vega-lite";
import { chartTitle, RANGE_NOTE } from "./_charts.ts";
import type { LanCrowdRuns, RxSeries } from "./_results.ts";
import { medianMinMax } from "./_stats.ts";

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";
/** Both clients in the same colours on every chart. */
const CLIENT_COLOR = {
  field: "client",
  type: "nominal",
  title: null,
  scale: { domain: ["shoal", "aria2"] },
} as const;

/**
 * Completion time of each downloader in finishing order, one bar per client
 * (median of the runs, min-max rule), and the ideal as a dashed rule.
 */
export function crowdBarsChart(
  clients: Record<string, LanCrowdRuns>,
  ideal: { seconds: number; label: string },
  title: string,
): vl.TopLevelSpec {
  const values = Object.entries(clients).flatMap(([client, c]) =>
    (c.runs[0] ?? []).map((_, i) => ({
      client,
      downloader: i + 1,
      ...medianMinMax(c.runs.map((times) => times[i]!)),
    }))
  );
  const x = {
    field: "downloader",
    type: "ordinal",
    title: "downloader, in finishing order",
    axis: { labelAngle: 0 },
  };
  const xOffset = { field: "client", scale: { domain: ["shoal", "aria2"] } };
  const runs = Object.values(clients).map((c) => c.runs.length);
  return {
    $schema: SCHEMA,
    title: chartTitle(title, `${RANGE_NOTE}; ${Math.max(...runs)} run(s)`),
    width: 420,
    height: 220,
    layer: [
      {
        data: { values },
        layer: [
          {
            mark: { type: "bar", opacity: 0.8 },
            encoding: {
              x,
              xOffset,
              y: { field: "median", type: "quantitative", title: "completion time s" },
              color: CLIENT_COLOR,
            },
          },
          {
            mark: { type: "rule", strokeWidth: 2, color: "black" },
            encoding: {
              x,
              xOffset,
              y: { field: "min", type: "quantitative" },
              y2: { field: "max" },
            },
          },
        ],
      },
      {
        data: { values: [{ y: ideal.seconds, label: ideal.label }] },
        layer: [
          {
            mark: { type: "rule", strokeDash: [6, 4], color: "firebrick" },
            encoding: { y: { field: "y", type: "quantitative" } },
          },
          {
            mark: { type: "text", align: "left", dx: 4, dy: -6, color: "firebrick" },
            encoding: {
              y: { field: "y", type: "quantitative" },
              x: { value: 0 },
              text: { field: "label" },
            },
          },
        ],
      },
    ],
  } as vl.TopLevelSpec;
}

/** MB/s (10^6 bytes) between consecutive samples of one series, at the start of each interval. */
export function rxRates(s: RxSeries): { t: number; mbps: number }[] {
  const out = [];
  for (let i = 1; i < s.t.length; i++) {
    const dt = s.t[i]! - s.t[i - 1]!;
    if (dt > 0) out.push({ t: s.t[i - 1]!, mbps: (s.bytes[i]! - s.bytes[i - 1]!) / dt / 1e6 });
  }
  return out;
}

/** Each downloader's received MB/s over time, a panel per client, a line per downloader. */
export function crowdRateChart(
  clients: Record<string, RxSeries[]>,
  options: { title: string; intervalMs: number },
): vl.TopLevelSpec {
  const values = Object.entries(clients).flatMap(([client, series]) =>
    series.flatMap((s) => rxRates(s).map((p) => ({ client, downloader: s.host, ...p })))
  );
  return {
    $schema: SCHEMA,
    title: chartTitle(
      options.title,
      `line: MB/s received on the downloader's link (all protocols) per ${options.intervalMs} ms sample; the run of the median last completion`,
    ),
    data: { values },
    facet: {
      column: {
        field: "client",
        type: "nominal",
        title: null,
        sort: ["shoal", "aria2"],
      },
    },
    spec: {
      width: 300,
      height: 200,
      mark: { type: "line", strokeWidth: 1.5, interpolate: "step-after" },
      encoding: {
        x: { field: "t", type: "quantitative", title: "time since the download command s" },
        y: { field: "mbps", type: "quantitative", title: "MB/s" },
        color: { field: "downloader", type: "nominal", title: "downloader" },
      },
    },
  } as vl.TopLevelSpec;
}
