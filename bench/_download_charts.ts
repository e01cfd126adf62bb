/** The report's download charts: size classes, resources, seeder counts, flash crowd, failover. */
import type * as vl from "vega-lite";
import { chartTitle, RANGE_NOTE, rangePanels, type RangePoint } from "./_charts.ts";
import {
  type Crowd,
  type FailoverJson,
  megabytes,
  progressRate,
  type Row,
  type RowMetric,
  rowStat,
  type Uploads,
} from "./_results.ts";
import { medianMinMax } from "./_stats.ts";

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";

/** Points of `metrics` for every row of each tool, x chosen by `x`. */
function rowPoints(
  tools: Record<string, Row[]>,
  metrics: RowMetric[],
  x: (r: Row) => number,
): RangePoint[] {
  return Object.entries(tools).flatMap(([series, rows]) =>
    rows.flatMap((r) => metrics.map((panel) => ({ series, x: x(r), panel, ...rowStat(r, panel) })))
  );
}

/** Time and MB/s of upload_file and of a one-seeder download against file size (log scales). */
export function sizesChart(
  downloads: Record<string, Row[]>,
  uploads: Uploads[],
): vl.TopLevelSpec {
  const tools = Object.fromEntries(
    Object.entries(downloads).map(([tool, rows]) => [`download (${tool})`, rows]),
  );
  const points = rowPoints(tools, ["time s", "MB/s"], (r) => r.sizeMiB);
  for (const u of uploads) {
    const series = "upload_file (shoal)";
    points.push({ series, x: u.mib, panel: "time s", ...medianMinMax(u.seconds) });
    const rates = u.seconds.map((s) => megabytes(u.mib) / s);
    points.push({ series, x: u.mib, panel: "MB/s", ...medianMinMax(rates) });
  }
  return rangePanels(points, {
    title: "File size classes: upload_file and download from one seeder",
    xTitle: "file size MiB",
    panels: ["time s", "MB/s"],
    log: ["x", "time s"],
  });
}

/** The downloader's peak RSS and CPU seconds against file size, one seeder. */
export function resourcesChart(downloads: Record<string, Row[]>): vl.TopLevelSpec {
  return rangePanels(rowPoints(downloads, ["peak RSS MiB", "CPU s"], (r) => r.sizeMiB), {
    title: "Downloader peak RSS and CPU by file size (one seeder)",
    xTitle: "file size MiB",
    panels: ["peak RSS MiB", "CPU s"],
    log: ["x", "CPU s"],
  });
}

/** MB/s and the downloader's peak RSS against the number of seeders, for one file size. */
export function seedersChart(tools: Record<string, Row[]>, label: string): vl.TopLevelSpec {
  return rangePanels(rowPoints(tools, ["MB/s", "peak RSS MiB"], (r) => r.seeders), {
    title: `Peer count: ${label} from 1 to n seeders`,
    xTitle: "seeders",
    panels: ["MB/s", "peak RSS MiB"],
  });
}

/**
 * Completion time of each downloader of the flash crowd (in finishing order,
 * median and min-max over the runs), with a reference line: by default the
 * time of one download alone.
 */
export function crowdChart(
  crowd: Crowd,
  label: string,
  aloneSeconds: number | null,
  options: { reference?: string; title?: string } = {},
) {
  const values = Array.from({ length: crowd.downloaders }, (_, i) => ({
    downloader: i + 1,
    ...medianMinMax(crowd.runs.map((times) => times[i]!)),
  }));
  const x = {
    field: "downloader",
    type: "ordinal",
    title: "downloader, in finishing order",
    axis: { labelAngle: 0 },
  };
  const layer: unknown[] = [
    {
      mark: { type: "bar", opacity: 0.7 },
      encoding: { x, y: { field: "median", type: "quantitative", title: "completion time s" } },
    },
    {
      mark: { type: "rule", strokeWidth: 2, color: "black" },
      encoding: { x, y: { field: "min", type: "quantitative" }, y2: { field: "max" } },
    },
  ];
  if (aloneSeconds !== null) {
    layer.push({
      data: { values: [{ y: aloneSeconds, label: options.reference ?? "one downloader alone" }] },
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
    });
  }
  return {
    $schema: SCHEMA,
    title: chartTitle(
      options.title ??
        `Flash crowd: ${crowd.downloaders} downloaders of ${label} from one seeder, started together`,
      `${RANGE_NOTE}; ${crowd.runs.length} run(s)`,
    ),
    width: 360,
    height: 200,
    data: { values },
    layer,
  } as vl.TopLevelSpec;
}

/** The download's MB/s over time in each run, with the kill of the primary tracker marked. */
export function failoverChart(f: FailoverJson["failover"], label: string): vl.TopLevelSpec {
  const rates = f.runs.flatMap((r, i) =>
    progressRate(r, f.mib).map((p) => ({ run: `run ${i + 1}`, t: p.t, mbps: p.mbps }))
  );
  const kills = f.runs.map((r, i) => ({ run: `run ${i + 1}`, t: r.killAt }));
  const color = { field: "run", type: "nominal", title: null } as const;
  const x = { field: "t", type: "quantitative", title: "time since the download command s" };
  return {
    $schema: SCHEMA,
    title: chartTitle(
      `Failover during a download: ${label} from one seeder`,
      "line: MB/s verified per 100 ms sample; dashed rule: kill -9 of the primary tracker",
    ),
    width: 480,
    height: 200,
    layer: [
      {
        data: { values: rates },
        mark: { type: "line", interpolate: "step-after" },
        encoding: { x, y: { field: "mbps", type: "quantitative", title: "MB/s" }, color },
      },
      {
        data: { values: kills },
        mark: { type: "rule", strokeDash: [6, 4], strokeWidth: 2 },
        encoding: { x, color },
      },
    ],
  } as vl.TopLevelSpec;
}
