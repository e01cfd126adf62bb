/** The report's "What a GiB costs here" section, from bench/floor_bench.ts. */
import { type FloorJson, fmtN, type Row, rowStat } from "./_results.ts";

/**
 * The per-GiB cost of every stage a download cannot skip, measured alone, and
 * what they add up to next to the downloader's measured CPU for 1 GiB.
 */
export function floorSection(floor: FloorJson["floor"] | null, gib: Row | undefined): string[] {
  if (!floor) return ["Not measured: the floor benchmark did not run."];
  const s = (ms: number) => fmtN(ms / 1000, 2);
  const stages: [string, number][] = [
    [
      "SHA-1 of every 512 KiB piece, `crypto.subtle` (it copies each piece first)",
      floor.sha1_subtle_ms,
    ],
    ["whole-file SHA-1, `node:crypto`", floor.sha1_node_ms],
    floor.write_dropped_ms === undefined
      ? ["writing a new file through the page cache", floor.write_fresh_ms]
      : [
        "writing a new file through the page cache, its pages dropped behind every 16 MiB (as a download does)",
        floor.write_dropped_ms,
      ],
    floor.loopback_tls_ms === undefined
      ? ["moving the bytes over one loopback TCP connection (both ends)", floor.loopback_ms]
      : [
        "moving the bytes over one loopback TLS connection, node:tls sending to `Deno.connectTls` (both ends, as pieces travel)",
        floor.loopback_tls_ms,
      ],
  ];
  const sum = stages.reduce((a, [, ms]) => a + ms, 0);
  const cores = navigator.hardwareConcurrency;
  const used = gib ? rowStat(gib, "CPU s/GiB").median : null;
  return [
    "Each stage a download cannot skip, run alone in one process with the APIs shoal uses (`deno run -A bench/floor_bench.ts`), in seconds per GiB:",
    "",
    "| stage | s per GiB |",
    "| ----- | --------- |",
    ...stages.map(([name, ms]) => `| ${name} | ${s(ms)} |`),
    ...(floor.write_dropped_ms === undefined
      ? []
      : [`| for comparison: a new file, keeping its pages | ${s(floor.write_fresh_ms)} |`]),
    ...(floor.loopback_tls_ms === undefined
      ? []
      : [`| for comparison: the same bytes over plain TCP | ${s(floor.loopback_ms)} |`]),
    `| for comparison: the same file written again (its pages already resident) | ${
      s(floor.write_resident_ms)
    } |`,
    `| **sum of the four stages** | **${s(sum)}** |`,
    "",
    `The stages add up to ${
      s(sum)
    } s of work per GiB, shared by ${cores} cores (the loopback figure already includes the seeder's send), so no download of 1 GiB can take less than about ${
      s(sum / cores)
    } s here${
      used === null ? "" : `; the downloader measured above used ${fmtN(used, 2)} CPU-s per GiB`
    }. Writing a new file is the stage that varies most: this VM hands memory back to its host a few seconds after it is freed, and a page touched for the first time then costs a trip to the host, so the same write takes from about ${
      s(floor.write_resident_ms)
    } s per GiB (pages still resident) to over 1 s per GiB (pages the host must supply; ${
      s(floor.write_fresh_ms)
    } s in this run); and the kernel takes one file's writes one at a time, so this stage is not shared by the cores.${
      floor.write_dropped_ms === undefined
        ? ""
        : ` So a download drops the pages behind its whole-file hash (peer/verify/page_cache.ts) and writes into pages freed a moment before, still resident: ${
          s(floor.write_dropped_ms)
        } s per GiB.`
    }`,
  ];
}
