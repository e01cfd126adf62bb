/**
 * Tests of the Verifier with a real verify host (on this thread, over a
 * MessageChannel of the test's own): file hashes, prefix hashes, no host, close.
 */
import assert from "node:assert/strict";
import { Verifier } from "./verifier.ts";
import { hostVerify } from "./verify_host.ts";
import { VerifyError } from "./verify_error.ts";
import { sha1, withFile } from "./_test_files.ts";

const PIECE = 512 * 1024;

/** A Verifier connected to a verify host on this thread; close() ends both. */
function hosted(): { v: Verifier; close(): void } {
  const { port1, port2 } = new MessageChannel();
  hostVerify(port2);
  const v = new Verifier();
  v.connect(port1);
  return {
    v,
    close: () => {
      v.close();
      port2.close();
    },
  };
}

Deno.test("Verifier.hashFile() gives every piece's SHA-1 and the whole file's", async () => {
  await withFile(2 * PIECE + 77, async (path, data) => {
    const { v, close } = hosted();
    try {
      const h = await v.hashFile(path, PIECE);
      const pieces = [0, 1, 2].map((p) => sha1(data.subarray(p * PIECE, (p + 1) * PIECE)));
      assert.deepEqual(h, { size: data.length, pieces: pieces.join(""), sha1: sha1(data) });
    } finally {
      close();
    }
  });
});

Deno.test("Verifier.hashFile() of a missing file rejects with the reason", async () => {
  const { v, close } = hosted();
  await assert.rejects(v.hashFile("/nonexistent/shoal/f", PIECE), VerifyError);
  close();
});

Deno.test("Verifier.followPrefix() follows a growing prefix to the file's SHA-1, beside a file hash", async () => {
  await withFile(3 * 1024 * 1024 + 5, async (path, data) => {
    const { v, close } = hosted();
    try {
      const prefix = v.followPrefix(path);
      prefix.advance(PIECE);
      const file = v.hashFile(path, PIECE);
      prefix.advance(2 * PIECE);
      prefix.advance(PIECE); // never backwards
      assert.equal(await prefix.finish(data.length), sha1(data));
      assert.equal((await file).sha1, sha1(data));
      // The host goes on serving after its last hash ended.
      assert.equal(await v.followPrefix(path).finish(data.length), sha1(data));
    } finally {
      close();
    }
  });
});

Deno.test("Verifier with no host connected refuses every hash at once, saying why", async () => {
  await withFile(1000, async (path) => {
    const v = new Verifier();
    await assert.rejects(v.hashFile(path, PIECE), /piece server has not started/);
    const prefix = v.followPrefix(path);
    prefix.advance(500);
    await assert.rejects(prefix.finish(1000), /piece server has not started/);
    v.close();
  });
});

Deno.test("Verifier.close() fails the hashes still running and refuses new ones", async () => {
  await withFile(1000, async (path) => {
    const { v, close } = hosted();
    const cancelled = v.followPrefix(path);
    cancelled.advance(500);
    cancelled.cancel();
    const running = v.followPrefix(path);
    running.advance(500);
    close();
    await assert.rejects(running.finish(1000), /stopped/);
    await assert.rejects(v.hashFile(path, PIECE), /stopped/);
    await assert.rejects(v.followPrefix(path).finish(1000), /stopped/);
  });
});
