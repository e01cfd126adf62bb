/**
 * `deno task bench [--quick]`: runs the tracker, swarm and (if present) aria2
 * benchmarks as child processes, then writes docs/PERFORMANCE.md and SVG
 * charts under docs/. Progress goes to stderr as one updating line.
 */
import { parseArgs } from "node:util";
import {
  renderSvg,
  sizeLabel,
  swarmChart,
  type SwarmRow,
  swarmStat,
  trackerChart,
  type TrackerThroughput,
} from "./_charts.ts";

/** Swarm and aria2 plans: sizes in MiB, seeder counts, runs per cell. */
const PLANS = {
  quick: ["--sizes", "64", "--seeders", "1,2", "--runs", "1"],
  full: ["--sizes", "64,1024", "--seeders", "1,2,4", "--runs", "3"],
} as const;
/** Margin over the slowest one-seeder run before more seeders count as slower. */
const SEEDER_NOISE = 0.05;
const DOCS = new URL("../docs/", import.meta.url);
const ARIA2 = new URL("./aria2_compare.ts", import.meta.url);

interface Tracker {
  write_latency_ms: { count: number; p50: number; p99: number; max: number } | null;
  read_latency_ms: { count: number; p50: number; p99: number; max: number } | null;
  write_throughput: TrackerThroughput[];
  read_throughput: TrackerThroughput[];
  failover_ms: { median: number; min: number; max: number } | null;
}
/** What one child benchmark produced: its final JSON line, or why there is none. */
interface Part<T> {
  data: T | null;
  seconds: number;
  note?: string;
}

const { values } = parseArgs({ args: Deno.args, options: { quick: { type: "boolean" } } });
const quick = values.quick ?? false;
const started = performance.now();
const enc = new TextEncoder();
let status = "starting";
const ticker = setInterval(showProgress, 1000);

function showProgress(): void {
  const s = ((performance.now() - started) / 1000).toFixed(0).padStart(4);
  Deno.stderr.writeSync(enc.encode(`\r\x1b[K[bench ${s}s] ${status}`.slice(0, 160)));
}

/** Runs one benchmark script and returns its last stdout line that parses as JSON. */
async function runPart<T>(name: string, script: URL, args: string[]): Promise<Part<T>> {
  const t0 = performance.now();
  status = name;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", script.pathname, ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const tail: string[] = [];
  const readErr = (async () => {
    let buf = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      const parts = (buf + chunk).split(/[\r\n]/);
      buf = parts.pop() ?? "";
      // deno-lint-ignore no-control-regex
      const lines = parts.map((l) => l.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").trim()).filter(
        Boolean,
      );
      tail.push(...lines);
      tail.splice(0, Math.max(0, tail.length - 20));
      if (lines.length > 0) {
        status = `${name}: ${lines.at(-1)!.replace(/^\[bench +[\d.]+s\] /, "")}`;
      }
    }
  })();
  const out = new Response(child.stdout).text();
  const [{ code }, text] = await Promise.all([child.status, out, readErr]);
  const seconds = (performance.now() - t0) / 1000;
  const line = text.trim().split("\n").reverse().find((l) => l.startsWith("{"));
  if (code !== 0 || !line) {
    const why = `exited with code ${code}; last stderr: ${tail.slice(-3).join(" | ")}`;
    return { data: null, seconds, note: why };
  }
  return { data: JSON.parse(line) as T, seconds };
}

const fmtN = (x: number, d: number) => x.toFixed(d);
/** "median (min-max)" with `d` decimals. */
const mmm = (s: { median: number; min: number; max: number }, d: number) =>
  `${fmtN(s.median, d)} (${fmtN(s.min, d)}-${fmtN(s.max, d)})`;
const verdict = (ok: boolean | null) => ok === null ? "not measured" : ok ? "met" : "**NOT met**";
const cell = (rows: SwarmRow[] | null, mib: number, k: number) =>
  rows?.find((r) => r.sizeMiB === mib && r.seeders === k);

async function machine(): Promise<string[]> {
  const mem = (await Deno.readTextFile("/proc/meminfo").catch(() => ""))
    .match(/MemTotal:\s+(\d+)/)?.[1];
  const kernel = (await Deno.readTextFile("/proc/version").catch(() => "unknown")).split(" ");
  return [
    `| cores | memory | kernel | Deno | date | mode |`,
    `| ----- | ------ | ------ | ---- | ---- | ---- |`,
    `| ${navigator.hardwareConcurrency} | ${mem ? fmtN(Number(mem) / 1048576, 1) : "?"} GiB | ${
      kernel.slice(0, 3).join(" ")
    } | ${Deno.version.deno} | ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC | ${
      quick ? "quick" : "full"
    } |`,
  ];
}

function swarmTable(rows: SwarmRow[]): string[] {
  const out = [
    "| file | seeders | runs | time s | MB/s | peak RSS MiB | CPU s |",
    "| ---- | ------- | ---- | ------ | ---- | ------------ | ----- |",
  ];
  for (const r of rows) {
    out.push(
      `| ${sizeLabel(r.sizeMiB)} | ${r.seeders} | ${r.seconds.length} | ${
        mmm(swarmStat(r, "time s"), 2)
      } | ${mmm(swarmStat(r, "MB/s"), 0)} | ${mmm(swarmStat(r, "peak RSS MiB"), 0)} | ${
        mmm(swarmStat(r, "CPU s"), 2)
      } |`,
    );
  }
  return out;
}

function trackerTables(t: Tracker): string[] {
  const lat = (name: string, l: Tracker["write_latency_ms"]) =>
    l ? `| ${name} | ${l.count} | ${fmtN(l.p50, 2)} | ${fmtN(l.p99, 2)} | ${fmtN(l.max, 2)} |` : "";
  const out = [
    "One client, one request at a time (percentiles over the samples of one run):",
    "",
    "| request | samples | p50 (median) ms | p99 ms | max ms |",
    "| ------- | ------- | --------------- | ------ | ------ |",
    lat("replicated write (`create_group`)", t.write_latency_ms),
    lat("read (`whoami`)", t.read_latency_ms),
    "",
    "Throughput, each client with one request in flight (one run per client count):",
    "",
    "| clients | writes/s | write p50 / p99 ms | reads/s | read p50 / p99 ms |",
    "| ------- | -------- | ------------------ | ------- | ----------------- |",
  ];
  for (const w of t.write_throughput) {
    const r = t.read_throughput.find((x) => x.clients === w.clients);
    out.push(
      `| ${w.clients} | ${w.ops_per_s} | ${fmtN(w.p50_ms, 2)} / ${fmtN(w.p99_ms, 2)} | ${
        r?.ops_per_s ?? "-"
      } | ${r ? `${fmtN(r.p50_ms, 2)} / ${fmtN(r.p99_ms, 2)}` : "-"} |`,
    );
  }
  if (t.failover_ms) {
    out.push("", `Failover after \`kill -9\` of the primary: ${mmm(t.failover_ms, 0)} ms.`);
  }
  return out.filter((l, i, a) => l !== "" || a[i - 1] !== "");
}

function comparison(
  shoal: SwarmRow[],
  aria2: Part<{ aria2: SwarmRow[] | null; skipped?: string }>,
) {
  if (!aria2.data?.aria2) {
    return [`Comparison with aria2 skipped: ${aria2.data?.skipped ?? aria2.note}.`];
  }
  const out = [
    "Ratio shoal / aria2 of the medians (below 1 means shoal is faster or lighter):",
    "",
    "| file | seeders | shoal time s | aria2 time s | time | peak RSS | CPU |",
    "| ---- | ------- | ------------ | ------------ | ---- | -------- | --- |",
  ];
  for (const a of aria2.data.aria2) {
    const s = cell(shoal, a.sizeMiB, a.seeders);
    if (!s) continue;
    const ratio = (m: "time s" | "peak RSS MiB" | "CPU s") =>
      fmtN(swarmStat(s, m).median / swarmStat(a, m).median, 2);
    out.push(
      `| ${sizeLabel(a.sizeMiB)} | ${a.seeders} | ${mmm(swarmStat(s, "time s"), 2)} | ${
        mmm(swarmStat(a, "time s"), 2)
      } | ${ratio("time s")} | ${ratio("peak RSS MiB")} | ${ratio("CPU s")} |`,
    );
  }
  return out;
}

function goals(shoal: SwarmRow[] | null, t: Tracker | null, aria2: SwarmRow[] | null): string[] {
  const med = (r: SwarmRow | undefined) => r ? swarmStat(r, "time s").median : null;
  const gib = med(cell(shoal, 1024, 1));
  const small = shoal?.filter((r) => r.sizeMiB === 64).map((r) => med(r)!) ?? [];
  const smallWorst = small.length ? Math.max(...small) : null;
  // Clearly slower: every run with more seeders beats the slowest one-seeder run by the margin.
  const slower = (shoal ?? []).filter((r) => {
    const one = cell(shoal, r.sizeMiB, 1);
    return r.seeders > 1 && one !== undefined &&
      Math.min(...r.seconds) > Math.max(...one.seconds) * (1 + SEEDER_NOISE);
  });
  const multi = (shoal ?? []).some((r) => r.seeders > 1);
  const ariaGib = med(cell(aria2, 1024, 1));
  const speedup = gib && ariaGib ? ariaGib / gib : null;
  const s = (x: number | null, unit: string, d = 2) => x === null ? "-" : `${fmtN(x, d)} ${unit}`;
  const rows: [string, string, boolean | null][] = [
    ["1 GiB from one seeder ≤ 2.0 s", s(gib, "s"), gib === null ? null : gib <= 2],
    [
      "64 MiB ≤ 0.4 s (worst seeder count)",
      s(smallWorst, "s"),
      smallWorst === null ? null : smallWorst <= 0.4,
    ],
    [
      `not slower with more seeders (fastest run not ${
        SEEDER_NOISE * 100
      }% over slowest one-seeder run)`,
      slower.map((r) => `${sizeLabel(r.sizeMiB)}×${r.seeders}: ${s(med(r), "s")}`).join(", ") ||
      (multi ? "no slowdown" : "-"),
      multi ? slower.length === 0 : null,
    ],
    [
      "tracker replicated write p99 ≤ 5 ms",
      s(t?.write_latency_ms?.p99 ?? null, "ms"),
      t?.write_latency_ms ? t.write_latency_ms.p99 <= 5 : null,
    ],
    [
      "failover ≤ 1 s (slowest round)",
      t?.failover_ms ? `${mmm(t.failover_ms, 0)} ms` : "-",
      t?.failover_ms ? t.failover_ms.max <= 1000 : null,
    ],
    [
      "≥ 3.5× faster than aria2 for 1 GiB",
      speedup === null ? "-" : `${fmtN(speedup, 2)}×`,
      speedup === null ? null : speedup >= 3.5,
    ],
  ];
  return [
    "| goal | measured | verdict |",
    "| ---- | -------- | ------- |",
    ...rows.map(([g, m, ok]) => `| ${g} | ${m} | ${verdict(ok)} |`),
  ];
}

function trends(shoal: SwarmRow[] | null, t: Tracker | null, aria2: SwarmRow[] | null): string[] {
  const out: string[] = [];
  const ones = (shoal ?? []).filter((r) => r.seeders === 1);
  if (ones.length > 1) {
    const [a, b] = [ones[0]!, ones.at(-1)!];
    const speed = (r: SwarmRow) => fmtN(swarmStat(r, "MB/s").median, 0);
    const cpuPerGiB = (r: SwarmRow) => fmtN(swarmStat(r, "CPU s").median / (r.sizeMiB / 1024), 1);
    out.push(
      `- Throughput from one seeder goes from ${speed(a)} MB/s at ${sizeLabel(a.sizeMiB)} to ${
        speed(b)
      } MB/s at ${sizeLabel(b.sizeMiB)}: fixed per-download costs weigh more on small files.`,
      `- The downloader spends ${cpuPerGiB(a)} CPU-s per GiB at ${sizeLabel(a.sizeMiB)} and ${
        cpuPerGiB(b)
      } at ${
        sizeLabel(b.sizeMiB)
      }, on ${navigator.hardwareConcurrency} cores shared with the seeders.`,
      `- Peak RSS is ${fmtN(swarmStat(a, "peak RSS MiB").median, 0)} MiB at ${
        sizeLabel(a.sizeMiB)
      } and ${fmtN(swarmStat(b, "peak RSS MiB").median, 0)} MiB at ${sizeLabel(b.sizeMiB)}.`,
    );
  }
  for (const mib of new Set((shoal ?? []).map((r) => r.sizeMiB))) {
    const rs = shoal!.filter((r) => r.sizeMiB === mib);
    const [one, most] = [rs.find((r) => r.seeders === 1), rs.at(-1)!];
    if (!one || most === one) continue;
    const change = swarmStat(most, "time s").median / swarmStat(one, "time s").median - 1;
    const rss = swarmStat(most, "peak RSS MiB").median - swarmStat(one, "peak RSS MiB").median;
    const margin = 1 + SEEDER_NOISE;
    const apart = Math.min(...most.seconds) > Math.max(...one.seconds) * margin ||
      Math.min(...one.seconds) > Math.max(...most.seconds) * margin;
    const what = `${fmtN(Math.abs(change) * 100, 0)}% ${change < 0 ? "less" : "more"} time (median${
      apart ? "" : ", within the run-to-run spread"
    })`;
    out.push(
      `- ${sizeLabel(mib)} from ${most.seeders} seeders instead of one takes ${what}; peak RSS ${
        rss >= 0 ? "+" : ""
      }${fmtN(rss, 0)} MiB${rss > 5 ? " (more connections, more piece buffers)" : ""}.`,
    );
  }
  const w = t?.write_throughput ?? [];
  if (w.length > 1) {
    const best = w.reduce((a, b) => (b.ops_per_s > a.ops_per_s ? b : a));
    out.push(
      `- Tracker writes peak at ${best.ops_per_s}/s with ${best.clients} clients; p99 latency grows from ${
        fmtN(w[0]!.p99_ms, 2)
      } ms (${w[0]!.clients} client) to ${fmtN(w.at(-1)!.p99_ms, 2)} ms (${
        w.at(-1)!.clients
      } clients) as requests queue on the primary.`,
    );
  }
  const a1 = cell(aria2, 64, 1);
  const s1 = cell(shoal, 64, 1);
  if (a1 && s1) {
    const x = swarmStat(a1, "time s").median / swarmStat(s1, "time s").median;
    out.push(`- For 64 MiB from one seeder aria2 takes ${fmtN(x, 1)}× shoal's time.`);
  }
  out.push(
    "",
    "Where the time goes (from profiling with `perf` and single-stage microbenchmarks, see README):",
    "a third to a half of the downloader's CPU goes to the kernel (socket copies and page faults on",
    "freshly touched memory), about 1.4 s per GiB to `crypto.subtle.digest` (which copies each",
    "512 KiB piece before hashing), about 0.6 s per GiB to the whole-file SHA-1, and the rest to",
    "Deno's socket and file ops. The downloader shares the cores with the seeders, so on a small",
    "machine CPU, not the network, bounds a loopback transfer. Memory is flat in file size but",
    "grows with connections: each worker is a V8 isolate of about 12 MiB, plus piece buffers.",
  );
  return out;
}

try {
  const mode = quick ? "quick" : "full";
  const tracker = await runPart<Tracker>(
    "tracker",
    new URL("./tracker_bench.ts", import.meta.url),
    quick ? ["--quick"] : [],
  );
  const swarm = await runPart<{ swarm: SwarmRow[] }>(
    "swarm",
    new URL("./swarm_bench.ts", import.meta.url),
    [...PLANS[mode]],
  );
  const hasAria2 = await Deno.stat(ARIA2).then(() => true, () => false);
  const aria2: Part<{ aria2: SwarmRow[] | null; skipped?: string }> = hasAria2
    ? await runPart("aria2", ARIA2, [...PLANS[mode]])
    : { data: null, seconds: 0, note: "bench/aria2_compare.ts does not exist" };
  status = "writing report and charts";
  const shoalRows = swarm.data?.swarm ?? null;
  const ariaRows = aria2.data?.aria2 ?? null;
  await Deno.mkdir(DOCS, { recursive: true });
  const charts: [string, string][] = [];
  if (shoalRows) {
    const tools = { shoal: shoalRows, ...(ariaRows ? { aria2: ariaRows } : {}) };
    charts.push(
      [
        "perf_swarm_time.svg",
        await renderSvg(
          swarmChart(tools, { metrics: ["time s", "MB/s"], title: "Download time and throughput" }),
        ),
      ],
      [
        "perf_swarm_resources.svg",
        await renderSvg(
          swarmChart(tools, {
            metrics: ["peak RSS MiB", "CPU s"],
            title: "Downloader peak RSS and CPU",
          }),
        ),
      ],
    );
  }
  if (tracker.data) {
    const series = { writes: tracker.data.write_throughput, reads: tracker.data.read_throughput };
    charts.push(["perf_tracker_latency.svg", await renderSvg(trackerChart(series))]);
  }
  for (const [name, svg] of charts) await Deno.writeTextFile(new URL(name, DOCS), svg);
  const img = (name: string, alt: string) =>
    charts.some(([n]) => n === name) ? [`![${alt}](${name})`, ""] : [];
  const failed = (p: Part<unknown>, what: string) =>
    p.data ? [] : [`${what} did not run: ${p.note}.`];
  const md = [
    "# Performance",
    "",
    `Generated by \`deno task bench${
      quick ? " --quick" : ""
    }\` (bench/report.ts); every process on one host, over loopback.`,
    `Figures are the median with min-max in parentheses. Parts took: tracker ${
      fmtN(tracker.seconds, 0)
    } s, swarm ${fmtN(swarm.seconds, 0)} s, aria2 ${fmtN(aria2.seconds, 0)} s.`,
    "",
    ...await machine(),
    "",
    "## Swarm downloads",
    "",
    "Time from the download command to the verified file; MB/s is 10^6 bytes per second; peak RSS and CPU are the downloader's.",
    "",
    ...failed(swarm, "The swarm benchmark"),
    ...(shoalRows ? swarmTable(shoalRows) : []),
    "",
    ...img("perf_swarm_time.svg", "download time and MB/s by file size and seeders"),
    ...img("perf_swarm_resources.svg", "downloader peak RSS and CPU by file size and seeders"),
    "## Tracker",
    "",
    ...failed(tracker, "The tracker benchmark"),
    ...(tracker.data ? trackerTables(tracker.data) : []),
    "",
    ...img("perf_tracker_latency.svg", "tracker requests/s and latency by client count"),
    "## Comparison with aria2",
    "",
    ...(shoalRows ? comparison(shoalRows, aria2) : ["Skipped: the swarm benchmark did not run."]),
    "",
    "## Goals",
    "",
    ...goals(shoalRows, tracker.data, ariaRows),
    "",
    "## Observed trends",
    "",
    ...trends(shoalRows, tracker.data, ariaRows),
    "",
  ];
  const mdPath = new URL("PERFORMANCE.md", DOCS);
  await Deno.writeTextFile(mdPath, md.join("\n"));
  // Let `deno fmt` lay out the generated files so `deno task check` stays clean.
  const written = [mdPath, ...charts.map(([n]) => new URL(n, DOCS))].map((u) => u.pathname);
  await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "-q", ...written],
    cwd: new URL("..", import.meta.url).pathname,
  }).output();
  status = `done in ${fmtN((performance.now() - started) / 1000, 0)} s: docs/PERFORMANCE.md, ${
    charts.map(([n]) => `docs/${n}`).join(", ")
  }`;
} finally {
  clearInterval(ticker);
  showProgress();
  Deno.stderr.writeSync(enc.encode("\n"));
}
