/**
 * What the download benchmarks measure in a full and in a quick run: file
 * sizes, seeder counts, the flash crowd, failover during a download and the
 * cells repeated with aria2. Sizes are in MiB (0.25 is 256 KiB).
 */

/** One download case: a file from `seeders` seeders, repeated `runs` times. */
export interface Cell {
  mib: number;
  seeders: number;
  runs: number;
}

/** Everything the swarm, failover and aria2 benchmarks run. */
export interface DownloadPlan {
  /** Size classes: each file is uploaded `uploads` times (timed) and downloaded from one seeder. */
  sizes: { mib: number; uploads: number; runs: number }[];
  /** The peer-count series: one file from each number of seeders. */
  peers: { mib: number; seeders: number[]; runs: number };
  /** Flash crowd: one seeder, `downloaders` downloaders started together. */
  crowd: { mib: number; downloaders: number; runs: number };
  /** A download during which the primary tracker is killed `killAfterMs` after its start. */
  failover: { mib: number; runs: number; killAfterMs: number };
  /** Cells also run with aria2c (same sizes and seeder counts, fewer where time is short). */
  aria2: Cell[];
}

/** Size classes and peer count of the full run. */
const FULL_DOWNLOADS: Pick<DownloadPlan, "sizes" | "peers"> = {
  sizes: [
    { mib: 0.25, uploads: 5, runs: 5 },
    { mib: 8, uploads: 5, runs: 5 },
    { mib: 64, uploads: 5, runs: 5 },
    { mib: 512, uploads: 3, runs: 3 },
    { mib: 1024, uploads: 3, runs: 3 },
  ],
  peers: { mib: 512, seeders: [1, 2, 4, 8], runs: 3 },
};
/** Runs of each aria2 cell in the full run (aria2 needs about 5 s for any download). */
const FULL_ARIA2_RUNS = 3;

/** The full run (under 15 minutes on 2 cores, with aria2). */
export const FULL: DownloadPlan = {
  ...FULL_DOWNLOADS,
  crowd: { mib: 512, downloaders: 8, runs: 3 },
  failover: { mib: 1024, runs: 3, killAfterMs: 1000 },
  // Every size and seeder count of the swarm benchmark.
  aria2: swarmCells(FULL_DOWNLOADS).map((c) => ({ ...c, runs: FULL_ARIA2_RUNS })),
};

/** The quick run (under two minutes): small files, one run each. */
export const QUICK: DownloadPlan = {
  sizes: [
    { mib: 0.25, uploads: 1, runs: 1 },
    { mib: 8, uploads: 1, runs: 1 },
    { mib: 64, uploads: 1, runs: 1 },
  ],
  peers: { mib: 64, seeders: [1, 2, 4], runs: 1 },
  crowd: { mib: 64, downloaders: 8, runs: 1 },
  failover: { mib: 256, runs: 1, killAfterMs: 300 },
  aria2: [{ mib: 64, seeders: 1, runs: 1 }, { mib: 64, seeders: 2, runs: 1 }],
};

/** Smallest file a scaled plan keeps (one piece is 512 KiB). */
const MIN_MIB = 1 / 64;

/**
 * The plan of `--quick` or the full run, optionally shrunk for trying the code
 * paths: `scale` multiplies every size, `maxRuns` caps every run count.
 */
export function choosePlan(
  options: { quick?: boolean; scale?: number; maxRuns?: number },
): DownloadPlan {
  const base = options.quick ? QUICK : FULL;
  const scale = options.scale ?? 1;
  const cap = options.maxRuns ?? Infinity;
  const mib = (m: number) => Math.max(MIN_MIB, m * scale);
  const runs = (r: number) => Math.max(1, Math.min(cap, r));
  return {
    sizes: base.sizes.map((s) => ({
      mib: mib(s.mib),
      uploads: runs(s.uploads),
      runs: runs(s.runs),
    })),
    peers: { ...base.peers, mib: mib(base.peers.mib), runs: runs(base.peers.runs) },
    crowd: { ...base.crowd, mib: mib(base.crowd.mib), runs: runs(base.crowd.runs) },
    failover: { ...base.failover, mib: mib(base.failover.mib), runs: runs(base.failover.runs) },
    aria2: base.aria2.map((c) => ({ ...c, mib: mib(c.mib), runs: runs(c.runs) })),
  };
}

/** The plan options every download benchmark accepts. */
export const PLAN_OPTIONS = {
  quick: { type: "boolean" },
  scale: { type: "string" },
  "max-runs": { type: "string" },
} as const;

/** Reads `--quick`, `--scale <f>` and `--max-runs <n>` from parsed arguments. */
export function planFromArgs(
  values: { quick?: boolean; scale?: string; "max-runs"?: string },
): DownloadPlan {
  return choosePlan({
    quick: values.quick,
    scale: values.scale === undefined ? undefined : Number(values.scale),
    maxRuns: values["max-runs"] === undefined ? undefined : Number(values["max-runs"]),
  });
}

/** The download cells of the swarm benchmark: every size from one seeder, then the peer series. */
export function swarmCells(plan: Pick<DownloadPlan, "sizes" | "peers">): Cell[] {
  const cells: Cell[] = plan.sizes.map((s) => ({ mib: s.mib, seeders: 1, runs: s.runs }));
  for (const k of plan.peers.seeders) {
    const same = cells.find((c) => c.mib === plan.peers.mib && c.seeders === k);
    if (same) same.runs = Math.max(same.runs, plan.peers.runs);
    else cells.push({ mib: plan.peers.mib, seeders: k, runs: plan.peers.runs });
  }
  return cells;
}
