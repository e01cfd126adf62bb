/** Tests of the Verifier with its real verify worker: file hashes, prefix hashes, close. */
import assert from "node:assert/strict";
import { Verifier } from "./verifier.ts";
import { VerifyError } from "./verify_error.ts";
import { sha1, withFile } from "./_test_files.ts";

const PIECE = 512 * 1024;

Deno.test("Verifier.hashFile() gives every piece's SHA-1 and the whole file's", async () => {
  await withFile(2 * PIECE + 77, async (path, data) => {
    const v = new Verifier();
    try {
      const h = await v.hashFile(path, PIECE);
      const pieces = [0, 1, 2].map((p) => sha1(data.subarray(p * PIECE, (p + 1) * PIECE)));
      assert.deepEqual(h, { size: data.length, pieces: pieces.join(""), sha1: sha1(data) });
    } finally {
      v.close();
    }
  });
});

Deno.test("Verifier.hashFile() of a missing file rejects with the reason", async () => {
  const v = new Verifier();
  await assert.rejects(v.hashFile("/nonexistent/shoal/f", PIECE), VerifyError);
  v.close();
});

Deno.test("Verifier.followPrefix() follows a growing prefix to the file's SHA-1, beside a file hash", async () => {
  await withFile(3 * 1024 * 1024 + 5, async (path, data) => {
    const v = new Verifier();
    try {
      const prefix = v.followPrefix(path);
      prefix.advance(PIECE);
      const file = v.hashFile(path, PIECE);
      prefix.advance(2 * PIECE);
      prefix.advance(PIECE); // never backwards
      assert.equal(await prefix.finish(data.length), sha1(data));
      assert.equal((await file).sha1, sha1(data));
      // The worker stopped with its last hash; the next one starts another.
      assert.equal(await v.followPrefix(path).finish(data.length), sha1(data));
    } finally {
      v.close();
    }
  });
});

Deno.test("Verifier.close() fails the hashes still running and refuses new ones", async () => {
  await withFile(1000, async (path) => {
    const v = new Verifier();
    const cancelled = v.followPrefix(path);
    cancelled.advance(500);
    cancelled.cancel();
    const running = v.followPrefix(path);
    running.advance(500);
    v.close();
    await assert.rejects(running.finish(1000), /stopped/);
    await assert.rejects(v.hashFile(path, PIECE), /stopped/);
    await assert.rejects(v.followPrefix(path).finish(1000), /stopped/);
  });
});
