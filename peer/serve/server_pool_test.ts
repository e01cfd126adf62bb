/** Tests of the ServerPool's verify host: file hashes run on its first worker's thread. */
import assert from "node:assert/strict";
import { ServerPool } from "./server_pool.ts";
import { Verifier } from "../verify/verifier.ts";
import { sha1, withFile } from "../verify/_test_files.ts";
import { testCa } from "./_test_identities.ts";

const PIECE = 256 * 1024;

Deno.test("ServerPool's first worker hosts the verifier's file and prefix hashes", async () => {
  const pool = await ServerPool.start({ hostname: "127.0.0.1", port: 0 }, {
    count: 2,
    ca: (await testCa()).certPem,
    onChanged: () => {},
  });
  const v = new Verifier();
  try {
    v.connect(pool.verifyPort);
    await withFile(PIECE + 99, async (path, data) => {
      const prefix = v.followPrefix(path);
      prefix.advance(PIECE);
      assert.equal((await v.hashFile(path, PIECE)).sha1, sha1(data));
      assert.equal(await prefix.finish(data.length), sha1(data));
    });
  } finally {
    await pool.close();
    v.close();
  }
});

Deno.test("ServerPool's verify host goes with the pool: a hash still running fails at close", async () => {
  const pool = await ServerPool.start({ hostname: "127.0.0.1", port: 0 }, {
    count: 1,
    ca: (await testCa()).certPem,
    onChanged: () => {},
  });
  const v = new Verifier();
  v.connect(pool.verifyPort);
  await withFile(1000, async (path) => {
    const prefix = v.followPrefix(path);
    prefix.advance(500);
    await pool.close();
    v.close();
    await assert.rejects(prefix.finish(1000), /stopped/);
  });
});

Deno.test("ServerPool survives an unusable grant key and tells onLost when a worker fails", async () => {
  const pool = await ServerPool.start({ hostname: "127.0.0.1", port: 0 }, {
    count: 1,
    ca: (await testCa()).certPem,
    onChanged: () => {},
  });
  const v = new Verifier();
  const lost: string[] = [];
  pool.onLost = (reason) => {
    lost.push(reason);
    v.close();
  };
  v.connect(pool.verifyPort);
  try {
    pool.setKey("not a key");
    await withFile(PIECE, async (path, data) => {
      assert.equal((await v.hashFile(path, PIECE)).sha1, sha1(data));
      const prefix = v.followPrefix(path);
      // A served file without its metadata throws inside the worker: the worker fails.
      pool.set({} as Parameters<ServerPool["set"]>[0]);
      await assert.rejects(prefix.finish(data.length), /stopped/);
    });
    assert.equal(lost.length, 1);
  } finally {
    pool.terminate();
  }
});
