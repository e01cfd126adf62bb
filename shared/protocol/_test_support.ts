/** What the protocol decoders' tests share: a trip through the frame codec, and hostile objects. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeJson, FrameDecoder, type Message } from "../frame.ts";
import { BadMessage } from "./bad_message.ts";

/** `msg` as the receiver's frame decoder hands it over after it crossed the wire. */
export function overTheWire(msg: Message): Message {
  const [frame, ...more] = new FrameDecoder({ maxFrame: 1 << 20 }).push(encodeJson(msg));
  assert.equal(more.length, 0);
  assert.ok(frame?.kind === "json");
  return frame.msg;
}

/** Asserts that `decode(msg)` throws a {@linkcode BadMessage} whose message matches `text`. */
export function assertBad(decode: (m: Message) => unknown, msg: Message, text: RegExp): void {
  assert.throws(() => decode(msg), (err: unknown) => {
    assert.ok(err instanceof BadMessage, `${JSON.stringify(msg)}: ${err}`);
    assert.match(err.message, text, JSON.stringify(msg));
    assert.doesNotMatch(err.message, /\n/);
    return true;
  });
}

const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, 2 ** 53 + 2, "", "all", "=", [], {}),
  fc.string({ maxLength: 8 }),
  fc.integer(),
  fc.jsonValue({ maxDepth: 3 }),
);

/** JSON objects with any of `keys` holding any JSON value, plus stray keys. */
export function objectLike(keys: string[]): fc.Arbitrary<Record<string, unknown>> {
  const fields = Object.fromEntries(keys.map((k) => [k, anyValue]));
  return fc.tuple(
    fc.record(fields, { requiredKeys: [] }),
    fc.dictionary(fc.string({ maxLength: 6 }), anyValue, { maxKeys: 3 }),
  ).map(([known, stray]) => JSON.parse(JSON.stringify({ ...stray, ...known })));
}

/** Like {@linkcode objectLike}, with a `t` from `types` (or any string), as received. */
export function messageLike(types: string[], keys: string[]): fc.Arbitrary<Message> {
  const t = fc.oneof(fc.constantFrom(...types), fc.string({ maxLength: 6 }));
  return fc.tuple(t, objectLike(keys)).map(([t, o]) => overTheWire({ ...o, t }));
}

/**
 * Property: on any of `values`, `decode` returns or throws a one-line
 * BadMessage, and what it returns, sent as JSON, decodes again to itself.
 */
export function assertDecodesOrBad<M extends Record<string, unknown>, T>(
  values: fc.Arbitrary<M>,
  decode: (m: M) => T,
): void {
  fc.assert(
    fc.property(values, (msg) => {
      let out: T;
      try {
        out = decode(msg);
      } catch (err) {
        if (err instanceof BadMessage && !err.message.includes("\n")) return;
        throw err;
      }
      assert.deepEqual(decode(JSON.parse(JSON.stringify(out))), out);
    }),
    { numRuns: 2000 },
  );
}
