/**
 * The report's "Observed trends": one bullet per section, written from the
 * figures (each claim is chosen by what was measured), then what profiling
 * showed about where the downloader's time goes.
 */
import { SEEDER_NOISE } from "./_report_goals.ts";
import { lowestAfterKill } from "./_report_tables.ts";
import {
  type Crowd,
  type FailoverJson,
  findRow,
  fmtN,
  megabytes,
  mmm,
  peerRows,
  type Results,
  type Row,
  rowStat,
  sizeLabel,
  type TrackerJson,
  type Uploads,
} from "./_results.ts";
import { medianMinMax } from "./_stats.ts";

/** A crowd counts as helped by peer-to-peer serving when it beats back-to-back downloads by this. */
const CROWD_GAIN = 1.1;

const median = (xs: number[]) => medianMinMax(xs).median;
const seconds = (r: Row) => rowStat(r, "time s").median;
const speed = (r: Row) => fmtN(rowStat(r, "MB/s").median, 0);

function uploads(ups: Uploads[]): string[] {
  if (ups.length < 2) return [];
  const [a, b] = [ups[0]!, ups.at(-1)!];
  const rate = megabytes(b.mib) / median(b.seconds);
  return [
    `- \`upload_file\` takes ${fmtN(median(a.seconds), 2)} s for ${
      sizeLabel(a.mib)
    }, which is its fixed cost (starting the hash worker, registering with the trackers), and hashes ${
      sizeLabel(b.mib)
    } at ${
      fmtN(rate, 0)
    } MB/s (the SHA-1 of every 512 KiB piece with \`crypto.subtle\` and of the whole file, in one worker, reading from the page cache).`,
  ];
}

function sizes(ones: Row[]): string[] {
  if (ones.length < 2) return [];
  const [a, b] = [ones[0]!, ones.at(-1)!];
  const big = ones.filter((x) => x.sizeMiB >= 64);
  const cpu = big.map((x) =>
    `${fmtN(rowStat(x, "CPU s/GiB").median, 1)} CPU-seconds per GiB at ${sizeLabel(x.sizeMiB)}`
  );
  const rss = (x: Row) => fmtN(rowStat(x, "peak RSS MiB").median, 0);
  return [
    `- A download from one seeder takes ${fmtN(seconds(a), 2)} s for ${
      sizeLabel(a.sizeMiB)
    }: the fixed cost of any download (lookup, grant, connections, the rename after the whole-file hash). Throughput grows with size, to ${
      speed(b)
    } MB/s at ${sizeLabel(b.sizeMiB)}.`,
    ...(cpu.length
      ? [
        `- The downloader spends ${
          cpu.join(", ")
        } (less per GiB on larger files: the fixed cost is spread). Its peak RSS is ${
          rss(a)
        } MiB at ${sizeLabel(a.sizeMiB)} and ${rss(b)} MiB at ${
          sizeLabel(b.sizeMiB)
        }: most of it is the V8 isolates of the main thread and the workers, not the file.`,
      ]
      : []),
  ];
}

function seeders(peers: Row[]): string[] {
  if (peers.length < 2) return [];
  const [one, most] = [peers[0]!, peers.at(-1)!];
  const change = rowStat(most, "MB/s").median / rowStat(one, "MB/s").median - 1;
  const margin = 1 + SEEDER_NOISE;
  const faster = Math.max(...most.seconds) * margin < Math.min(...one.seconds);
  const slower = Math.min(...most.seconds) > Math.max(...one.seconds) * margin;
  const rss = rowStat(most, "peak RSS MiB").median - rowStat(one, "peak RSS MiB").median;
  const best = peers.reduce((a, b) =>
    rowStat(b, "MB/s").median > rowStat(a, "MB/s").median ? b : a
  );
  const spread = faster
    ? "every run apart from every one-seeder run: the serving work is spread over more processes"
    : slower
    ? "every run apart: more connections add work on the downloader while all the processes share the same cores, and loopback has no per-seeder uplink to add"
    : `but the runs overlap (the slowest with ${most.seeders} seeders took ${
      fmtN(Math.max(...most.seconds), 2)
    } s, the fastest with one ${
      fmtN(Math.min(...one.seconds), 2)
    } s), so on this machine the gain is not certain`;
  return [
    `- ${sizeLabel(one.sizeMiB)} from ${peers.map((x) => x.seeders).join(", ")} seeders: ${
      peers.map(speed).join(", ")
    } MB/s (median), the best with ${best.seeders}. ${most.seeders} seeders instead of one are ${
      fmtN(Math.abs(change) * 100, 0)
    }% ${change >= 0 ? "faster" : "slower"} in the median, ${spread}. Peak RSS ${
      rss > 0
        ? `grows by ${fmtN(rss, 0)} MiB (more connections, more piece buffers)`
        : "does not grow"
    }.`,
  ];
}

function crowd(c: Crowd | undefined, alone: Row | undefined): string[] {
  if (!c || c.runs.length === 0 || !alone) return [];
  const last = median(c.runs.map((x) => x.at(-1)!));
  const first = median(c.runs.map((x) => x[0]!));
  const serial = seconds(alone) * c.downloaders;
  const gain = serial / last;
  const cores = navigator.hardwareConcurrency;
  const cpuNeed = rowStat(alone, "CPU s").median * c.downloaders;
  return [
    `- Flash crowd of ${c.downloaders} on ${sizeLabel(c.mib)}: the first downloader is done after ${
      fmtN(first, 2)
    } s and the last after ${fmtN(last, 2)} s (medians), against ${
      fmtN(seconds(alone), 2)
    } s for one downloader alone and ${
      fmtN(serial, 1)
    } s for ${c.downloaders} downloads one after the other; together they move ${
      fmtN((c.downloaders * megabytes(c.mib)) / last, 0)
    } MB/s. ${
      gain >= CROWD_GAIN
        ? `The crowd finishes ${
          fmtN(gain, 1)
        }× sooner than back-to-back downloads: the downloaders serve each other's pieces, so the one seeder is not the bottleneck.`
        : `That is ${
          gain >= 1 / CROWD_GAIN ? "about as fast as" : "slower than"
        } back-to-back downloads, and CPU sets a floor under it: one download alone costs its downloader ${
          fmtN(rowStat(alone, "CPU s").median, 2)
        } CPU-s, so the ${c.downloaders} downloaders need about ${
          fmtN(cpuNeed, 0)
        } CPU-s, at least ${
          fmtN(cpuNeed / cores, 1)
        } s on ${cores} cores before the seeder and the serving between downloaders get any.`
    }`,
  ];
}

function tracker(t: TrackerJson | null): string[] {
  const out: string[] = [];
  const w = t?.write_throughput ?? [];
  if (w.length > 1) {
    const best = w.reduce((a, b) => (b.ops_per_s > a.ops_per_s ? b : a));
    out.push(
      `- Tracker writes peak at ${best.ops_per_s}/s with ${best.clients} clients; p99 latency grows from ${
        fmtN(w[0]!.p99_ms, 2)
      } ms (${w[0]!.clients} client) to ${fmtN(w.at(-1)!.p99_ms, 2)} ms (${
        w.at(-1)!.clients
      } clients) as requests queue on the primary (writes of one event-loop turn share one SQLite transaction and one frame to the secondary).`,
    );
  }
  const sd = t?.sync_delay_ms;
  if (sd) {
    out.push(
      `- Synchronisation delay: the secondary applies an op ${
        fmtN(sd.secondary_minus_primary.p50, 2)
      } ms after the primary (median) and ${
        fmtN(-sd.apply_minus_ack.p50, 2)
      } ms before the client receives the acknowledgement (median; ${
        fmtN(-sd.apply_minus_ack.max, 2)
      } ms at the closest${
        sd.apply_minus_ack.max > 0 ? ", and some samples *after* it" : ""
      }). The seed report's 5-20 ms of delay after the acknowledgement does not arise: an acknowledged write is already applied and persisted on both trackers.`,
    );
  }
  return out;
}

function failover(f: FailoverJson["failover"] | undefined, alone: Row | undefined): string[] {
  if (!f || f.runs.length === 0) return [];
  const next = medianMinMax(f.runs.map((x) => x.nextCommandMs));
  const lows = f.runs.map((_, i) => lowestAfterKill(f, i)).filter((x) => !Number.isNaN(x));
  const took = median(f.runs.map((x) => x.seconds));
  const flow = lows.length === 0
    ? "every download had ended before its kill"
    : Math.min(...lows) > 0
    ? `the transfer never stopped: the lowest throughput of a 100 ms sample right after the kill was ${
      fmtN(Math.min(...lows), 0)
    } MB/s, since pieces flow peer to peer and only reports and lookups wait for the new primary`
    : `in ${
      lows.filter((x) => x === 0).length
    } of ${lows.length} runs no piece was verified during at least one 100 ms sample right after the kill`;
  return [
    `- Killing the primary tracker during a ${
      sizeLabel(f.mib)
    } download: the downloader's next tracker command succeeds after ${
      mmm(next, 0)
    } ms, and ${flow}. The download takes ${fmtN(took, 2)} s${
      alone ? ` against ${fmtN(seconds(alone), 2)} s without a kill` : ""
    }.`,
  ];
}

function aria2(shoal: Row[], rows: Row[]): string[] {
  const pairs = rows.flatMap((a) => {
    const s = findRow(shoal, a.sizeMiB, a.seeders);
    return s && a.seeders === 1 ? [{ a, s }] : [];
  }).sort((x, y) => x.a.sizeMiB - y.a.sizeMiB);
  if (pairs.length === 0) return [];
  const ratio = (p: { a: Row; s: Row }) => fmtN(seconds(p.a) / seconds(p.s), 1);
  const small = pairs[0]!.a;
  const rss = (r: Row) => fmtN(rowStat(r, "peak RSS MiB").median, 0);
  return [
    `- aria2 from one seeder takes ${
      pairs.map((p) => `${ratio(p)}× (${sizeLabel(p.a.sizeMiB)})`).join(", ")
    } shoal's time. Even ${sizeLabel(small.sizeMiB)} takes it ${
      fmtN(seconds(small), 1)
    } s, a fixed cost every aria2 download pays here; its peak RSS is ${rss(small)} MiB against ${
      rss(pairs[0]!.s)
    } MiB for shoal (one native process against several V8 isolates).`,
  ];
}

/** Bullet points written from the figures, then what profiling showed. */
export function trends(r: Results): string[] {
  const sw = r.swarm.data;
  const rows = sw?.swarm ?? [];
  const ones = rows.filter((x) => x.seeders === 1).sort((a, b) => a.sizeMiB - b.sizeMiB);
  const ups = (sw?.uploads ?? []).slice().sort((a, b) => a.mib - b.mib);
  const f = r.failover.data?.failover;
  return [
    ...uploads(ups),
    ...sizes(ones),
    ...seeders(peerRows(rows)),
    ...crowd(sw?.crowd, sw ? findRow(rows, sw.crowd.mib, 1) : undefined),
    ...tracker(r.tracker.data),
    ...failover(f, f ? findRow(rows, f.mib, 1) : undefined),
    ...aria2(rows, r.aria2.data?.aria2 ?? []),
    "",
    "Where the time goes (profiled with `perf` and per-thread CPU during a 1 GiB download, and the",
    "stages measured alone in the section above): the two SHA-1 passes every byte needs (each",
    "piece, and the whole file) and the socket copies at both ends, on two cores shared with the",
    "seeder, so CPU, not the network, bounds a loopback transfer here. Two costs that once were",
    "larger are gone: the kernel's copy into new page-cache pages, which on this VM mostly meant",
    "the host supplying pages touched for the first time (2 CPU-s per GiB when memory had been",
    "idle), now goes into pages the download dropped a moment before behind its whole-file hash;",
    "and the checkpoint of the peer database's log, which came every 1000 commits (one per",
    "verified piece) and stalled the main thread for about 200 ms twice per GiB, now comes every",
    "16384 pages and when no download runs. Writing with `O_DIRECT` (tried, not",
    "kept) left the download bound by the virtual disk, 2.3 s per GiB even without the",
    "whole-file hash, which would then have had to read the file back from disk. Peak RSS is flat",
    "in file size and mostly fixed",
    "cost: the Deno executable's own code (about 50 MiB of mapped pages) and one V8 isolate of 6-10",
    "MiB per thread of JavaScript: the main thread, the piece-server worker (whose thread also",
    "hosts the whole-file hash) and the transfer workers, each with up to 4 MiB of piece buffers: a",
    "download's connections share a worker two at a time, so a download from one or two seeders",
    "has one, and RSS grows with the number of seeders, not with the size of the file.",
  ];
}
