import assert from "node:assert/strict";
import type { DownloadInfo } from "../download/download_view.ts";
import { formatEta, progressLine, redraw } from "./progress_line.ts";

function dl(over: Partial<DownloadInfo>): DownloadInfo {
  return {
    user: "alice",
    group: "g1",
    name: "movie.bin",
    state: "D",
    size: 100 * 2 ** 20,
    sha1: "ab".repeat(20),
    pieces: 200,
    have: 84,
    percent: 42,
    rate: 3_100_000,
    peers: 3,
    eta: 19,
    reason: null,
    path: "/tmp/movie.bin",
    part: "/tmp/movie.bin.part",
    map: [],
    ...over,
  };
}

Deno.test("progressLine() shows %, MB/s, ETA and peers of each running download", () => {
  assert.equal(progressLine([dl({})], 80), "movie.bin 42.0% 3.1 MB/s ETA 19s 3 peers");
  assert.equal(
    progressLine(
      [dl({ peers: 1, eta: null }), dl({ name: "b.iso", state: "V", percent: 100 })],
      80,
    ),
    "movie.bin 42.0% 3.1 MB/s ETA - 1 peer | b.iso 100.0% verifying",
  );
});

Deno.test("progressLine() leaves out ended and paused downloads and fits the terminal", () => {
  assert.equal(progressLine([dl({ state: "C" }), dl({ state: "P" }), dl({ state: "F" })], 80), "");
  const line = progressLine([dl({}), dl({ name: "x".repeat(100) })], 40);
  assert.equal(line.length, 39);
  assert.ok(line.endsWith("…"));
});

Deno.test("formatEta() and redraw()", () => {
  assert.equal(formatEta(42), "42s");
  assert.equal(formatEta(185), "3m05s");
  assert.equal(formatEta(7800), "2h10m");
  assert.equal(redraw("abc"), "\rabc\x1b[K");
});
