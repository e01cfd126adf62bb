/** The report's "Goals" table: each goal, the figure, the verdict and the reason for a miss. */
import {
  findRow,
  fmtN,
  mmm,
  peerRows,
  type Results,
  type Row,
  rowStat,
  sizeLabel,
} from "./_results.ts";

/** Margin over the slowest one-seeder run before more seeders count as slower. */
export const SEEDER_NOISE = 0.05;
/** The goals. */
const GOAL = {
  gibSeconds: 2.0,
  aria2Speedup: 3.5,
  smallMiB: 64,
  smallSeconds: 0.4,
  writeP99Ms: 5,
  rssMiB: 120,
  failoverMs: 1000,
} as const;
const GIB = 1024;

/** Where more seeders are clearly slower: every run beats the slowest one-seeder run by the margin. */
function slowerWithSeeders(rows: Row[]): Row[] {
  return rows.filter((r) => {
    const one = findRow(rows, r.sizeMiB, 1);
    return r.seeders > 1 && one !== undefined &&
      Math.min(...r.seconds) > Math.max(...one.seconds) * (1 + SEEDER_NOISE);
  });
}

const verdict = (ok: boolean | null) => ok === null ? "not measured" : ok ? "met" : "**NOT met**";

/** One row per goal: the goal, the figure, the verdict and, when missed, why. */
export function goalsTable(r: Results): string[] {
  const rows = r.swarm.data?.swarm ?? [];
  const aria2 = r.aria2.data?.aria2 ?? null;
  const t = r.tracker.data;
  const med = (row: Row | undefined) => row ? rowStat(row, "time s").median : null;
  const gibRow = findRow(rows, GIB, 1);
  const gib = med(gibRow);
  const ariaGib = med(findRow(aria2, GIB, 1));
  const speedup = gib && ariaGib ? ariaGib / gib : null;
  const small = rows.filter((x) => x.sizeMiB === GOAL.smallMiB);
  const smallest = rows.filter((x) => x.seeders === 1).sort((a, b) => a.sizeMiB - b.sizeMiB)[0];
  const fixed = med(smallest);
  const smallWorst = small.length ? Math.max(...small.map((x) => med(x)!)) : null;
  const peers = peerRows(rows);
  const slower = slowerWithSeeders(peers);
  const dl = r.failover.data?.failover;
  const dlWorst = dl ? Math.max(...dl.runs.map((x) => x.nextCommandMs)) : null;
  const s = (x: number | null, unit: string, d = 2) => x === null ? "-" : `${fmtN(x, d)} ${unit}`;
  const cpuNote = gibRow
    ? `the downloader alone uses ${
      fmtN(rowStat(gibRow, "CPU s/GiB").median, 1)
    } CPU-s per GiB and shares the ${navigator.hardwareConcurrency} cores with the seeder; most of it is the two SHA-1 passes and the socket copies (see What a GiB costs on this machine)`
    : "";
  const goals: [string, string, boolean | null, string][] = [
    [
      `1 GiB from one seeder ≤ ${GOAL.gibSeconds} s`,
      s(gib, "s"),
      gib === null ? null : gib <= GOAL.gibSeconds,
      cpuNote,
    ],
    [
      `≥ ${GOAL.aria2Speedup}× faster than aria2 for 1 GiB (same run)`,
      speedup === null ? "-" : `${fmtN(speedup, 2)}× (aria2 ${s(ariaGib, "s")})`,
      speedup === null ? null : speedup >= GOAL.aria2Speedup,
      `shoal's own time for 1 GiB is above its ${GOAL.gibSeconds} s goal; ${GOAL.aria2Speedup}× needs shoal ≤ ${
        fmtN((ariaGib ?? NaN) / GOAL.aria2Speedup, 2)
      } s in this run`,
    ],
    [
      `${GOAL.smallMiB} MiB ≤ ${GOAL.smallSeconds} s (worst seeder count)`,
      s(smallWorst, "s"),
      smallWorst === null ? null : smallWorst <= GOAL.smallSeconds,
      fixed === null
        ? ""
        : `a download of the smallest file already takes ${
          fmtN(fixed, 2)
        } s (lookup, grant, connections, rename), and the rest goes at the one-seeder rate`,
    ],
    [
      `throughput not lower with more seeders (no run ${
        SEEDER_NOISE * 100
      }% slower than the slowest one-seeder run)`,
      slower.map((x) => `${sizeLabel(x.sizeMiB)}×${x.seeders}: ${s(med(x), "s")}`).join(", ") ||
      (peers.length > 1 ? "no slowdown" : "-"),
      peers.length > 1 ? slower.length === 0 : null,
      "every seeder and the downloader share two cores; more connections add work (more sockets, more messages) without adding bandwidth on loopback",
    ],
    [
      `downloader peak RSS ≤ ${GOAL.rssMiB} MiB (1 GiB from one seeder)`,
      gibRow ? `${fmtN(rowStat(gibRow, "peak RSS MiB").median, 0)} MiB` : "-",
      gibRow ? rowStat(gibRow, "peak RSS MiB").median <= GOAL.rssMiB : null,
      "about 50 MiB is the Deno executable's own code; each thread of JavaScript is a V8 isolate of 6-10 MiB (see Observed trends)",
    ],
    [
      `tracker replicated write p99 ≤ ${GOAL.writeP99Ms} ms`,
      s(t?.write_latency_ms?.p99 ?? null, "ms"),
      t?.write_latency_ms ? t.write_latency_ms.p99 <= GOAL.writeP99Ms : null,
      "one client, one request at a time; the tail is the SQLite commit on both trackers",
    ],
    [
      "failover ≤ 1 s: stream of writes (slowest round)",
      t?.failover_ms ? `${mmm(t.failover_ms, 0)} ms` : "-",
      t?.failover_ms ? t.failover_ms.max <= GOAL.failoverMs : null,
      "",
    ],
    [
      "failover ≤ 1 s: downloader's next tracker command (slowest run)",
      s(dlWorst, "ms", 0),
      dlWorst === null ? null : dlWorst <= GOAL.failoverMs,
      "",
    ],
  ];
  return [
    "| goal | measured | verdict | why missed |",
    "| ---- | -------- | ------- | ---------- |",
    ...goals.map(([g, m, ok, why]) =>
      `| ${g} | ${m} | ${verdict(ok)} | ${ok === false ? why : ""} |`
    ),
  ];
}
