import assert from "node:assert/strict";
import { emptyBitfield, setBit } from "../../shared/bitfield.ts";
import { describeUnfinished, formatDownload, type LiveDownload } from "./download_view.ts";
import type { DownloadRecord } from "../store/peer_db.ts";

function rec(over: Partial<DownloadRecord> = {}): DownloadRecord {
  const have = emptyBitfield(8);
  for (const p of [0, 1, 2]) setBit(have, p);
  return {
    user: "alice",
    group: "g1",
    name: "movie.bin",
    dest: "/tmp",
    size: 8 * 512 * 1024,
    pieceSize: 512 * 1024,
    pieces: "ab".repeat(160),
    sha1: "cd".repeat(20),
    have,
    status: "D",
    error: null,
    ...over,
  };
}

/** The parts of a running download that the view reads. */
function live(over: Partial<LiveDownload>): LiveDownload {
  return {
    status: "D",
    stalled: null,
    haveCount: 3,
    n: 8,
    rate: 3.1e6,
    peerCount: 3,
    error: null,
    rec: rec(),
    ...over,
  };
}

Deno.test("formatDownload() shows each state of a download from its record", () => {
  assert.equal(formatDownload(rec({ status: "P" })), "[P] [g1] movie.bin  37.5%  paused");
  assert.equal(formatDownload(rec({ status: "C" })), "[C] [g1] movie.bin");
  assert.equal(
    formatDownload(rec({ status: "F", error: "disk full" })),
    "[F] [g1] movie.bin  disk full",
  );
  assert.equal(
    formatDownload(rec(), { owner: "alice" }),
    "alice: [D] [g1] movie.bin  37.5%  waits for alice to log in",
  );
  assert.equal(
    formatDownload(rec({ status: "P" }), { owner: "bob" }),
    "bob: [P] [g1] movie.bin  37.5%  paused",
  );
});

Deno.test("formatDownload() shows a running download's progress, verification or stall", () => {
  assert.equal(
    formatDownload(rec(), { live: live({}) }),
    "[D] [g1] movie.bin  37.5%  3.1 MB/s  3 peers  ETA 1s",
  );
  assert.equal(
    formatDownload(rec(), { live: live({ status: "V", haveCount: 8 }) }),
    "[D] [g1] movie.bin  100.0%  verifying",
  );
  const stalled = live({ stalled: "no online peer has 5 of 8 pieces" });
  assert.equal(
    formatDownload(rec(), { live: stalled }),
    "[S] [g1] movie.bin  37.5%  stalled: no online peer has 5 of 8 pieces",
  );
  assert.equal(
    describeUnfinished(stalled),
    "[g1] movie.bin (stalled: no online peer has 5 of 8 pieces)",
  );
  assert.equal(describeUnfinished(live({})), "[g1] movie.bin (37.5%)");
  assert.equal(describeUnfinished(live({ status: "V" })), "[g1] movie.bin (verifying)");
});
