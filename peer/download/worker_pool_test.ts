import assert from "node:assert/strict";
import { WorkerPool } from "./worker_pool.ts";

function openCmd(path: string) {
  return {
    // Nothing listens here: the connections fail, which does not matter for placement.
    addr: { hostname: "127.0.0.1", port: 9 },
    group: "g",
    name: "f",
    sha1: "",
    grant: null,
    path,
    size: 0,
    pieceSize: 1,
    hashes: "",
  };
}

Deno.test("WorkerPool puts a download's connections two to a worker and another download in its own", () => {
  const pool = new WorkerPool(4);
  try {
    assert.equal(pool.started, 0);
    pool.open(openCmd("/dl/a.part"), () => {});
    pool.open(openCmd("/dl/a.part"), () => {});
    assert.equal(pool.started, 1, "two connections of one download share a worker");
    pool.open(openCmd("/dl/b.part"), () => {});
    assert.equal(pool.started, 2, "a second download gets a worker of its own");
    pool.open(openCmd("/dl/b.part"), () => {});
    assert.equal(pool.started, 2, "and its second connection joins it");
    pool.open(openCmd("/dl/a.part"), () => {});
    assert.equal(
      pool.started,
      3,
      "a third connection of the first download goes to a further worker",
    );
  } finally {
    pool.terminate();
  }
});
