import assert from "node:assert/strict";
import fc from "fast-check";
import { FrameError } from "./errors.ts";
import {
  encodeDataHeader,
  encodeJson,
  type Frame,
  FrameDecoder,
  KIND_DATA,
  KIND_JSON,
  type Message,
} from "./frame.ts";

const MAX_FRAME = 1024 * 1024;
const BIG_PAYLOAD = 512 * 1024;

/** A frame as the tests describe it: the expected output of the decoder. */
type Expected =
  | { kind: "json"; msg: Message }
  | { kind: "data"; tag: number; data: Uint8Array };

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

function encodeData(tag: number, data: Uint8Array): Uint8Array {
  return concat([encodeDataHeader(tag, data.length), data]);
}

function encodeFrame(frame: Expected): Uint8Array {
  return frame.kind === "json" ? encodeJson(frame.msg) : encodeData(frame.tag, frame.data);
}

/** A frame with raw length prefix and kind, for malformed input. */
function rawFrame(kind: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  new DataView(out.buffer).setUint32(0, body.length + 1);
  out[4] = kind;
  out.set(body, 5);
  return out;
}

function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

function randomBytes(length: number): Uint8Array {
  const out = new Uint8Array(length);
  // getRandomValues fills at most 65536 bytes per call.
  for (let pos = 0; pos < length; pos += 65536) {
    crypto.getRandomValues(out.subarray(pos, Math.min(length, pos + 65536)));
  }
  return out;
}

/** Splits `bytes` at the given sorted cut offsets (duplicates give empty chunks). */
function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const cut of cuts) {
    chunks.push(bytes.subarray(start, cut));
    start = cut;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

function decodeChunks(chunks: Uint8Array[], maxFrame = MAX_FRAME): Frame[] {
  const decoder = new FrameDecoder({ maxFrame });
  const frames: Frame[] = [];
  for (const chunk of chunks) frames.push(...decoder.push(chunk));
  assert.equal(decoder.partial, false, "decoder left mid-frame after the last chunk");
  return frames;
}

function assertBytesEqual(actual: Uint8Array, expected: Uint8Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) {
      assert.fail(`${what}: byte ${i} is ${actual[i]}, expected ${expected[i]}`);
    }
  }
}

function assertFrames(actual: Frame[], expected: Expected[], context = ""): void {
  assert.equal(actual.length, expected.length, `${context} frame count`);
  for (const [i, want] of expected.entries()) {
    const got = actual[i]!;
    assert.equal(got.kind, want.kind, `${context} frame ${i} kind`);
    if (got.kind === "json" && want.kind === "json") {
      assert.deepStrictEqual(got.msg, want.msg, `${context} frame ${i} message`);
    } else if (got.kind === "data" && want.kind === "data") {
      assert.equal(got.tag, want.tag, `${context} frame ${i} tag`);
      assertBytesEqual(got.data, want.data, `${context} frame ${i} data`);
    }
  }
}

function assertThrowsFrameError(fn: () => unknown, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof FrameError, `expected FrameError, got ${err}`);
    assert.equal(err.name, "FrameError");
    if (message) assert.match(err.message, message);
    return true;
  });
}

/** Feeds `bytes` whole and then one byte at a time; both must throw FrameError. */
function assertRejects(bytes: Uint8Array, message?: RegExp, maxFrame = MAX_FRAME): void {
  assertThrowsFrameError(() => new FrameDecoder({ maxFrame }).push(bytes), message);
  assertThrowsFrameError(() => {
    const decoder = new FrameDecoder({ maxFrame });
    for (let i = 0; i < bytes.length; i++) decoder.push(bytes.subarray(i, i + 1));
  }, message);
}

const smallFrames: Expected[] = [
  { kind: "json", msg: { t: "hello", peer: "alice", port: 7000 } },
  { kind: "data", tag: 7, data: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9) },
  { kind: "json", msg: { t: "ünï©ødé 🐟", nested: { list: [1, null, true, "x"] } } },
  { kind: "data", tag: 0xffffffff, data: new Uint8Array(0) },
  { kind: "json", msg: { t: "" } },
  { kind: "data", tag: 0, data: Uint8Array.of(0xff) },
];
const smallStream = concat(smallFrames.map(encodeFrame));

// --- encoders ---

Deno.test("encodeJson writes a big-endian length, kind 1 and the UTF-8 JSON body", () => {
  const msg: Message = { t: "hi", name: "é🐟" };
  const bytes = encodeJson(msg);
  const body = new TextEncoder().encode(JSON.stringify(msg));
  assert.equal(bytes.length, 5 + body.length);
  assert.equal(new DataView(bytes.buffer).getUint32(0), body.length + 1);
  assert.equal(bytes[4], KIND_JSON);
  assertBytesEqual(bytes.subarray(5), body, "body");
});

Deno.test("encodeDataHeader writes the length including kind and tag, kind 2 and the tag", () => {
  const header = encodeDataHeader(0x01020304, 1000);
  assert.equal(header.length, 9);
  assert.deepStrictEqual(
    Array.from(header),
    [0, 0, 0x03, 0xed, KIND_DATA, 0x01, 0x02, 0x03, 0x04],
  );
  assert.deepStrictEqual(Array.from(encodeDataHeader(0xffffffff, 0)), [
    0,
    0,
    0,
    5,
    2,
    255,
    255,
    255,
    255,
  ]);
});

// --- round trips with awkward splits ---

Deno.test("FrameDecoder decodes JSON and DATA frames delivered in one chunk", () => {
  assertFrames(decodeChunks([smallStream]), smallFrames);
});

Deno.test("FrameDecoder reassembles frames split at every byte boundary", () => {
  for (let cut = 0; cut <= smallStream.length; cut++) {
    assertFrames(decodeChunks(splitAt(smallStream, [cut])), smallFrames, `cut ${cut}:`);
  }
});

Deno.test("FrameDecoder reassembles frames split at every pair of byte boundaries", () => {
  for (let a = 0; a <= smallStream.length; a++) {
    for (let b = a; b <= smallStream.length; b++) {
      assertFrames(decodeChunks(splitAt(smallStream, [a, b])), smallFrames, `cuts ${a},${b}:`);
    }
  }
});

Deno.test("FrameDecoder reassembles frames fed one byte at a time", () => {
  const cuts = Array.from({ length: smallStream.length - 1 }, (_, i) => i + 1);
  assertFrames(decodeChunks(splitAt(smallStream, cuts)), smallFrames);
});

Deno.test("FrameDecoder ignores empty chunks", () => {
  const decoder = new FrameDecoder({ maxFrame: MAX_FRAME });
  assert.deepStrictEqual(decoder.push(new Uint8Array(0)), []);
  assert.equal(decoder.partial, false);
  decoder.push(smallStream.subarray(0, 2));
  assert.deepStrictEqual(decoder.push(new Uint8Array(0)), []);
  assert.equal(decoder.partial, true);
});

const bigPayload = randomBytes(BIG_PAYLOAD);
const bigFrames: Expected[] = [
  { kind: "json", msg: { t: "piece", index: 3 } },
  { kind: "data", tag: 0xdeadbeef, data: bigPayload },
  { kind: "data", tag: 42, data: new Uint8Array(0) },
  { kind: "json", msg: { t: "done" } },
];
const bigStream = concat(bigFrames.map(encodeFrame));

/** Offsets near every frame edge of the big stream, plus a few inside the payload. */
function sampledBoundaries(): number[] {
  const edges: number[] = [0];
  for (const frame of bigFrames) {
    const start = edges[edges.length - 1]!;
    edges.push(start + 4, start + 5, start + 9, start + encodeFrame(frame).length);
  }
  const cuts = new Set<number>();
  for (const edge of edges) {
    for (let d = -6; d <= 6; d++) cuts.add(edge + d);
  }
  for (let i = 1; i < 16; i++) cuts.add(Math.floor((bigStream.length * i) / 16));
  return [...cuts].filter((c) => c >= 0 && c <= bigStream.length).sort((a, b) => a - b);
}

Deno.test("FrameDecoder reassembles a 512 KiB data frame split at sampled boundaries", () => {
  for (const cut of sampledBoundaries()) {
    assertFrames(decodeChunks(splitAt(bigStream, [cut])), bigFrames, `cut ${cut}:`);
  }
});

Deno.test("FrameDecoder reassembles a 512 KiB data frame under random chunkings", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: bigStream.length }), { maxLength: 40 }),
      (cuts) => {
        cuts.sort((a, b) => a - b);
        assertFrames(decodeChunks(splitAt(bigStream, cuts)), bigFrames);
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("FrameDecoder decodes frames delivered whole as views of the input chunk", () => {
  const chunk = concat([
    encodeJson({ t: "a" }),
    encodeData(1, Uint8Array.of(10, 20, 30)),
    encodeData(2, bigPayload),
  ]);
  const frames = new FrameDecoder({ maxFrame: MAX_FRAME }).push(chunk);
  assert.equal(frames.length, 3);
  const small = frames[1]!;
  const big = frames[2]!;
  assert.ok(small.kind === "data" && big.kind === "data");
  assert.equal(small.data.buffer, chunk.buffer, "small payload is a view of the chunk");
  assert.equal(small.data.byteOffset, encodeJson({ t: "a" }).length + 9);
  assert.equal(big.data.buffer, chunk.buffer, "big payload is a view of the chunk");
  assert.equal(big.data.byteOffset, chunk.length - bigPayload.length);
  assertBytesEqual(big.data, bigPayload, "big payload");
});

Deno.test("FrameDecoder reports partial mid-frame and not between frames", () => {
  const boundaries = new Set<number>([0]);
  let end = 0;
  for (const frame of smallFrames) {
    end += encodeFrame(frame).length;
    boundaries.add(end);
  }
  const decoder = new FrameDecoder({ maxFrame: MAX_FRAME });
  assert.equal(decoder.partial, false);
  for (let i = 0; i < smallStream.length; i++) {
    decoder.push(smallStream.subarray(i, i + 1));
    assert.equal(decoder.partial, !boundaries.has(i + 1), `after byte ${i + 1}`);
  }
});

Deno.test("FrameDecoder reports partial when a chunk ends inside the length prefix", () => {
  const decoder = new FrameDecoder({ maxFrame: MAX_FRAME });
  const frame = encodeJson({ t: "x" });
  decoder.push(concat([frame, frame.subarray(0, 3)]));
  assert.equal(decoder.partial, true);
  const frames = decoder.push(frame.subarray(3));
  assert.equal(decoder.partial, false);
  assertFrames(frames, [{ kind: "json", msg: { t: "x" } }]);
});

// --- rejection of malformed input ---

Deno.test("FrameDecoder throws FrameError on an oversized length prefix before the body arrives", () => {
  // Only the 4-byte prefix is fed: the decoder must reject it without waiting
  // for (or allocating) the announced body.
  assertRejects(u32(1025), /exceeds the limit of 1024/, 1024);
  assertRejects(u32(0xffffffff), /exceeds the limit/, 1024);
  // A 4 GiB allocation would fail with a RangeError rather than a FrameError.
  assertRejects(u32(0xffffffff), /exceeds the limit/, MAX_FRAME);
});

Deno.test("FrameDecoder accepts a frame exactly at the size limit", () => {
  const data = randomBytes(1024 - 5);
  const bytes = encodeData(9, data);
  assertFrames(decodeChunks([bytes], 1024), [{ kind: "data", tag: 9, data }]);
  assertFrames(decodeChunks(splitAt(bytes, [2, 7]), 1024), [{ kind: "data", tag: 9, data }]);
  assertRejects(encodeData(9, randomBytes(1024 - 4)), /exceeds the limit/, 1024);
});

Deno.test("FrameDecoder throws FrameError on a zero length prefix", () => {
  assertRejects(u32(0), /Empty frame/);
  assertRejects(concat([encodeJson({ t: "ok" }), u32(0)]), /Empty frame/);
});

Deno.test("FrameDecoder throws FrameError on an unknown frame kind", () => {
  for (const kind of [0, 3, 127, 255]) {
    assertRejects(rawFrame(kind, Uint8Array.of(1, 2, 3)), new RegExp(`Unknown frame kind ${kind}`));
  }
});

Deno.test("FrameDecoder throws FrameError on a control frame that is not valid UTF-8", () => {
  const body = concat([
    new TextEncoder().encode('{"t":"'),
    Uint8Array.of(0xff, 0xfe),
    new TextEncoder().encode('"}'),
  ]);
  assertRejects(rawFrame(KIND_JSON, body), /not valid UTF-8 JSON/);
  assertRejects(rawFrame(KIND_JSON, Uint8Array.of(0xc3)), /not valid UTF-8 JSON/);
});

Deno.test("FrameDecoder throws FrameError on a control frame that is not JSON", () => {
  const enc = new TextEncoder();
  for (const text of ["", "{", "{t: 'x'}", '{"t":"x"} trailing', "undefined"]) {
    assertRejects(rawFrame(KIND_JSON, enc.encode(text)), /not valid UTF-8 JSON/);
  }
});

Deno.test("FrameDecoder throws FrameError on a control frame that is not a JSON object", () => {
  const enc = new TextEncoder();
  for (const text of ['[{"t":"x"}]', "[]", "null", '"t"', "5", "true"]) {
    assertRejects(rawFrame(KIND_JSON, enc.encode(text)), /not a JSON object/);
  }
});

Deno.test("FrameDecoder throws FrameError on a control frame without a string t", () => {
  const enc = new TextEncoder();
  for (const text of ["{}", '{"type":"x"}', '{"t":1}', '{"t":null}', '{"t":["x"]}', '{"t":{}}']) {
    assertRejects(rawFrame(KIND_JSON, enc.encode(text)), /no string field t/);
  }
});

Deno.test("FrameDecoder throws FrameError on a data frame shorter than its 4-byte tag", () => {
  for (let tagBytes = 0; tagBytes < 4; tagBytes++) {
    assertRejects(rawFrame(KIND_DATA, new Uint8Array(tagBytes)), /shorter than its header/);
  }
});

Deno.test("FrameDecoder throws on a malformed frame after decoding earlier good ones", () => {
  const bytes = concat([encodeJson({ t: "ok" }), rawFrame(9, Uint8Array.of(0))]);
  assertRejects(bytes, /Unknown frame kind 9/);
});

// --- properties ---

/** Any JSON value that survives JSON.stringify / JSON.parse unchanged (no -0). */
const jsonField = fc.jsonValue({ stringUnit: "binary", maxDepth: 3 }).map((v) =>
  JSON.parse(JSON.stringify(v)) as unknown
);

const messageArb: fc.Arbitrary<Expected> = fc
  .record({
    t: fc.string({ unit: "binary" }),
    fields: fc.dictionary(fc.string({ unit: "binary" }), jsonField, { maxKeys: 6 }),
  })
  .map(({ t, fields }) => ({ kind: "json", msg: { ...fields, t } }));

const dataArb: fc.Arbitrary<Expected> = fc
  .record({
    tag: fc.integer({ min: 0, max: 0xffffffff }),
    data: fc.uint8Array({ maxLength: 300 }),
  })
  .map(({ tag, data }) => ({ kind: "data", tag, data }));

const framesArb = fc.array(fc.oneof(messageArb, dataArb), { maxLength: 12 });

Deno.test("FrameDecoder decodes what the encoders wrote, under any chunking", () => {
  fc.assert(
    fc.property(
      framesArb,
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 30 }),
      (frames, fractions) => {
        const bytes = concat(frames.map(encodeFrame));
        const cuts = fractions.map((f) => Math.floor(f * bytes.length)).sort((a, b) => a - b);
        assertFrames(decodeChunks(splitAt(bytes, cuts)), frames);
      },
    ),
    { numRuns: 300 },
  );
});

/** Bytes that look like frames with small lengths, so the parser gets past the prefix. */
const frameLikeBytes = fc
  .tuple(
    fc.integer({ min: 0, max: 40 }),
    fc.integer({ min: 0, max: 4 }),
    fc.uint8Array({ maxLength: 40 }),
  )
  .map(([len, kind, body]) => concat([u32(len), Uint8Array.of(kind), body]));

Deno.test("FrameDecoder either decodes random bytes or throws FrameError", () => {
  const maxFrame = 32;
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.uint8Array({ maxLength: 64 }), frameLikeBytes), { maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 16 }), { minLength: 1, maxLength: 8 }),
      (pieces, sizes) => {
        const bytes = concat(pieces);
        const decoder = new FrameDecoder({ maxFrame });
        try {
          let pos = 0;
          for (let i = 0; pos < bytes.length; i++) {
            const size = sizes[i % sizes.length]!;
            for (const frame of decoder.push(bytes.subarray(pos, pos + size))) {
              if (frame.kind === "json") assert.equal(typeof frame.msg.t, "string");
              else assert.ok(frame.data.length <= maxFrame - 5);
            }
            pos += size;
          }
        } catch (err) {
          if (!(err instanceof FrameError)) throw err;
        }
      },
    ),
    { numRuns: 2000 },
  );
});

/** Decodes `bytes` as a reader using `rest` would: small reads into a buffer, the rest of big frames straight into place. */
function decodeReadingIntoRest(bytes: Uint8Array, readSize: number, direct: number): Frame[] {
  const decoder = new FrameDecoder({ maxFrame: MAX_FRAME });
  const frames: Frame[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const rest = decoder.rest;
    if (rest && rest.length >= direct) {
      const n = Math.min(readSize, rest.length, bytes.length - pos);
      rest.set(bytes.subarray(pos, pos + n));
      frames.push(...decoder.filled(n));
      pos += n;
    } else {
      const n = Math.min(readSize, bytes.length - pos);
      // Copied, as a socket read into a reused buffer would be.
      for (const f of decoder.push(bytes.slice(pos, pos + n))) {
        frames.push(f.kind === "data" ? { ...f, data: f.data.slice() } : f);
      }
      pos += n;
    }
  }
  assert.equal(decoder.partial, false);
  return frames;
}

Deno.test("FrameDecoder.rest and filled assemble frames read straight into their buffers", () => {
  for (const readSize of [1, 7, 4096, 65536, 300_000]) {
    for (const direct of [1, 16, 16384]) {
      assertFrames(
        decodeReadingIntoRest(bigStream, readSize, direct),
        bigFrames,
        `reads of ${readSize}, direct from ${direct}:`,
      );
    }
  }
});

Deno.test("FrameDecoder.filled refuses more bytes than the frame has room for", () => {
  const decoder = new FrameDecoder({ maxFrame: MAX_FRAME });
  assert.throws(() => decoder.filled(1), RangeError);
  decoder.push(encodeDataHeader(1, 10));
  assert.equal(decoder.rest?.length, 10);
  assert.throws(() => decoder.filled(11), RangeError);
});

Deno.test("FrameDecoder gives back control-frame and partial-frame buffers, never data-frame ones", () => {
  const given: Uint8Array[] = [];
  const back: Uint8Array[] = [];
  const decoder = new FrameDecoder({
    maxFrame: MAX_FRAME,
    alloc: (len) => {
      const b = new Uint8Array(len);
      given.push(b);
      return b;
    },
    release: (b) => back.push(b),
  });
  const json = encodeJson({ t: "x", pad: "y".repeat(100) });
  decoder.push(json.subarray(0, 10));
  decoder.push(json.subarray(10));
  assert.deepEqual(back, [given[0]], "control frame's buffer returned once parsed");
  const data = encodeData(7, randomBytes(1000));
  const [frame] = [...decoder.push(data.subarray(0, 20)), ...decoder.push(data.subarray(20))];
  assert.ok(frame?.kind === "data");
  assert.equal(frame.data.buffer, given[1]!.buffer);
  assert.equal(back.length, 1, "data frame's buffer belongs to the receiver");
  decoder.push(data.subarray(0, 50));
  decoder.dispose();
  assert.deepEqual(back.slice(1), [given[2]], "partial frame's buffer returned on dispose");
});

Deno.test("FrameDecoder gives back the buffer of a malformed control frame", () => {
  const back: Uint8Array[] = [];
  const decoder = new FrameDecoder({ maxFrame: MAX_FRAME, release: (b) => back.push(b) });
  const bad = concat([u32(4), Uint8Array.of(KIND_JSON), new TextEncoder().encode("{{{")]);
  decoder.push(bad.subarray(0, 6));
  assert.throws(() => decoder.push(bad.subarray(6)), FrameError);
  assert.equal(back.length, 1);
});
