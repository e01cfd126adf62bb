import assert from "node:assert/strict";
import { MAX_LINK_FRAME } from "../../shared/constants.ts";
import {
  batchBySize,
  fragmentText,
  FRAME_BUDGET,
  MAX_ASSEMBLED,
  MAX_WHOLE,
  Reassembly,
} from "./link_chunks.ts";
import { LinkMessageError } from "./wire_checks.ts";

const sizes = (batches: number[][]) => batches.map((b) => b.reduce((s, x) => s + x + 1, 0));

Deno.test("batchBySize() keeps order and cuts where the next item would pass the budget", () => {
  const items = [3, 3, 3, 5, 1, 1];
  const batches = batchBySize(items, { size: (x) => x, budget: 8 });
  assert.deepEqual(batches, [[3, 3], [3], [5, 1], [1]]);
  assert.deepEqual(batches.flat(), items);
  assert.ok(sizes(batches).every((s) => s <= 8));
});

Deno.test("batchBySize() puts an item larger than the budget alone in its batch", () => {
  assert.deepEqual(batchBySize([1, 20, 1, 1], { size: (x) => x, budget: 8 }), [[1], [20], [1, 1]]);
  assert.deepEqual(batchBySize([20], { size: (x) => x, budget: 8 }), [[20]]);
  assert.deepEqual(batchBySize([], { size: (x: number) => x, budget: 8 }), []);
});

Deno.test("batchBySize() caps the count of a batch as well", () => {
  const batches = batchBySize(Array(1201).fill(0), { size: () => 0 });
  assert.deepEqual(batches.map((b) => b.length), [500, 500, 201]);
});

Deno.test("batchBySize() by default keeps a batch of 100 GiB share entries far below a frame", () => {
  // A share_file op of a 100 GiB file in 512 KiB pieces: 204,800 hashes, 8 MB of hex.
  const share = 204_800 * 40 + 200;
  const batches = batchBySize(Array(20).fill(share).concat(Array(1000).fill(150)), {
    size: (x) => x,
  });
  assert.ok(batches.slice(0, 20).every((b) => b.length === 1), "each share alone");
  for (const s of sizes(batches.slice(20))) assert.ok(s <= FRAME_BUDGET);
  // At most 3 bytes of UTF-8 a unit: a batch within the budget fits a frame.
  assert.ok(3 * FRAME_BUDGET < MAX_LINK_FRAME && 3 * MAX_WHOLE < MAX_LINK_FRAME);
});

Deno.test("fragmentText() cuts text into pieces of at most the given length that join back", () => {
  const text = "abcdefghij".repeat(7);
  const parts = fragmentText(text, 16);
  assert.deepEqual(parts.map((p) => p.length), [16, 16, 16, 16, 6]);
  assert.equal(parts.join(""), text);
  assert.deepEqual(fragmentText("", 16), []);
});

Deno.test("fragmentText() never cuts a surrogate pair in two", () => {
  const text = "a😀b😀😀c".repeat(5);
  for (let units = 2; units < 8; units++) {
    const parts = fragmentText(text, units);
    assert.equal(parts.join(""), text);
    for (const p of parts) {
      assert.ok(p.length <= units);
      assert.ok(p.isWellFormed(), `${units}: ${JSON.stringify(p)}`);
    }
  }
});

/** Fragments of `text` as a sender makes them. */
function fragmentsOf(text: string, units: number) {
  const parts = fragmentText(text, units);
  return parts.map((t, part) => ({ part, parts: parts.length, text: t }));
}

Deno.test("Reassembly gives the whole text back after the last part, and starts over after it", () => {
  const r = new Reassembly();
  for (const text of ["x".repeat(50), "second message"]) {
    const fs = fragmentsOf(text, 7);
    fs.slice(0, -1).forEach((f) => assert.equal(r.push(f), null));
    assert.equal(r.pending, true);
    assert.equal(r.push(fs.at(-1)!), text);
    assert.equal(r.pending, false);
  }
});

Deno.test("Reassembly drops an unfinished message when a new part 0 comes", () => {
  const r = new Reassembly();
  const first = fragmentsOf("first message, never finished", 5);
  r.push(first[0]!);
  r.push(first[1]!);
  const second = fragmentsOf("the one resent whole", 6);
  const got = second.map((f) => r.push(f));
  assert.equal(got.at(-1), "the one resent whole");
});

Deno.test("Reassembly refuses a broken transfer with a LinkMessageError and is clean after", () => {
  const fs = fragmentsOf("a".repeat(30), 10);
  const broken: [string, (r: Reassembly) => void, RegExp][] = [
    ["a part before part 0", (r) => r.push(fs[1]!), /out of order \(expected none\)/],
    ["a skipped part", (r) => (r.push(fs[0]!), r.push(fs[2]!)), /out of order/],
    [
      "a part repeated",
      (r) => (r.push(fs[0]!), r.push(fs[0]!), r.push(fs[0]!), r.push(fs[2]!)),
      /out of order/,
    ],
    ["another count", (r) => (r.push(fs[0]!), r.push({ ...fs[1]!, parts: 4 })), /out of order/],
    ["a part past the count", (r) => r.push({ part: 3, parts: 3, text: "a" }), /out of range/],
    ["no parts", (r) => r.push({ part: 0, parts: 0, text: "a" }), /out of range/],
    ["an empty part", (r) => r.push({ part: 0, parts: 2, text: "" }), /units/],
    [
      "a part over the budget",
      (r) => r.push({ part: 0, parts: 2, text: "a".repeat(FRAME_BUDGET + 1) }),
      /units/,
    ],
  ];
  for (const [what, feed, re] of broken) {
    const r = new Reassembly();
    assert.throws(() => feed(r), (err: Error) => {
      assert.ok(err instanceof LinkMessageError, what);
      assert.match(err.message, re, what);
      assert.ok(!err.message.includes("\n"), what);
      return true;
    });
    assert.equal(r.pending, false, what);
    // A transfer sent again from the start goes through.
    const again = fs.map((f) => r.push(f));
    assert.equal(again.at(-1), "a".repeat(30), what);
  }
});

Deno.test("Reassembly refuses a message longer than MAX_ASSEMBLED", () => {
  const r = new Reassembly();
  const chunk = "a".repeat(FRAME_BUDGET);
  const parts = Math.ceil(MAX_ASSEMBLED / FRAME_BUDGET) + 1;
  assert.throws(() => {
    for (let part = 0; part < parts; part++) r.push({ part, parts, text: chunk });
  }, /longer than/);
  assert.equal(r.pending, false);
});
