/** Tests of PrefixHasher: the SHA-1 of a growing prefix, an empty file, cancel and a short file. */
import assert from "node:assert/strict";
import { PrefixHasher } from "./prefix_hash.ts";
import { sha1, withFile } from "./_test_files.ts";

Deno.test("PrefixHasher hashes a prefix that grows in uneven steps to the file's SHA-1", async () => {
  await withFile(5 * 1024 * 1024 + 123, async (path, data) => {
    const h = new PrefixHasher(path);
    for (const upTo of [0, 1, 524288, 524287, 3 * 1024 * 1024]) h.advance(upTo);
    await new Promise((r) => setTimeout(r, 10));
    h.advance(4 * 1024 * 1024);
    assert.equal(await h.finish(data.length), sha1(data));
  });
});

Deno.test("PrefixHasher of an empty file is the SHA-1 of nothing", async () => {
  await withFile(0, async (path, data) => {
    assert.equal(await new PrefixHasher(path).finish(0), sha1(data));
  });
});

Deno.test("PrefixHasher rejects when cancelled or when the file is shorter than it says", async () => {
  await withFile(1000, async (path) => {
    const cancelled = new PrefixHasher(path);
    const result = cancelled.finish(1000);
    cancelled.cancel();
    await assert.rejects(result);
    await assert.rejects(new PrefixHasher(path).finish(2000), /ended before/);
  });
});
