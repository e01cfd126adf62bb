import assert from "node:assert/strict";
import type { LogEntry } from "../state/ops.ts";
import { type CatchUpPlan, entriesAfter, type LogView, planCatchUp } from "./catch_up.ts";
import { LinkMessageError } from "./wire_checks.ts";

/** A primary's log of entries `first..last`, each of the epoch `epochs` gives. */
function log(first: number, last: number, epochs: (i: number) => number): LogView {
  return {
    index: last,
    epoch: last === 0 ? 0 : epochs(last),
    firstIndex: first,
    epochOf: (i) => (first > 0 && i >= first && i <= last ? epochs(i) : undefined),
  };
}

/** Entries 1-10 of epoch 1, 11-20 of epoch 3. */
const twoEpochs = (i: number) => (i <= 10 ? 1 : 3);

Deno.test("planCatchUp() serves from the log when it holds the secondary's last entry and the next", () => {
  const cases: [string, Parameters<typeof planCatchUp>[0], LogView, CatchUpPlan][] = [
    ["both empty", { index: 0, lastEpoch: 0 }, log(0, 0, twoEpochs), { how: "log", from: 0 }],
    ["fresh, whole log", { index: 0, lastEpoch: 0 }, log(1, 20, twoEpochs), {
      how: "log",
      from: 0,
    }],
    ["behind", { index: 12, lastEpoch: 3 }, log(1, 20, twoEpochs), { how: "log", from: 12 }],
    ["level", { index: 20, lastEpoch: 3 }, log(5, 20, twoEpochs), { how: "log", from: 20 }],
    ["behind a compacted start", { index: 8, lastEpoch: 1 }, log(5, 20, twoEpochs), {
      how: "log",
      from: 8,
    }],
  ];
  for (const [what, req, view, want] of cases) assert.deepEqual(planCatchUp(req, view), want, what);
});

Deno.test("planCatchUp() sends a snapshot, with where the logs diverged when they did", () => {
  const cases: [string, Parameters<typeof planCatchUp>[0], LogView, CatchUpPlan][] = [
    ["fresh, log compacted", { index: 0, lastEpoch: 0 }, log(5, 20, twoEpochs), {
      how: "snapshot",
    }],
    ["entry compacted", { index: 3, lastEpoch: 1 }, log(5, 20, twoEpochs), { how: "snapshot" }],
    ["ahead of the primary", { index: 25, lastEpoch: 3 }, log(1, 20, twoEpochs), {
      how: "snapshot",
    }],
    // The secondary wrote entries 11-14 alone in epoch 2: they diverge after 10.
    ["wrote alone", { index: 14, lastEpoch: 2, runs: [[1, 1], [11, 2]] }, log(1, 20, twoEpochs), {
      how: "snapshot",
      divergedAt: 10,
    }],
    ["wrote alone, no runs (older tracker)", { index: 14, lastEpoch: 2 }, log(1, 20, twoEpochs), {
      how: "snapshot",
    }],
    // Runs that agree with the primary's log: nothing of its own, just compacted.
    ["compacted, same history", { index: 3, lastEpoch: 1, runs: [[1, 1]] }, log(5, 20, twoEpochs), {
      how: "snapshot",
    }],
  ];
  for (const [what, req, view, want] of cases) assert.deepEqual(planCatchUp(req, view), want, what);
});

const e = (index: number): LogEntry => ({ index, epoch: 1, op: { kind: "logout", token: "t" } });

Deno.test("entriesAfter() keeps the entries after the secondary's index, in order", () => {
  assert.deepEqual(entriesAfter(3, [e(2), e(3), e(4), e(5)]), [e(4), e(5)]);
  assert.deepEqual(entriesAfter(5, [e(4), e(5)]), []);
  assert.deepEqual(entriesAfter(0, []), []);
});

Deno.test("entriesAfter() refuses a gap with a LinkMessageError", () => {
  assert.throws(() => entriesAfter(3, [e(5)]), LinkMessageError);
  assert.throws(() => entriesAfter(3, [e(4), e(6)]), /Gap in the log: got 6 after 4/);
});
