import assert from "node:assert/strict";
import { BufferPool } from "./buffer_pool.ts";

Deno.test("BufferPool reuses a released buffer instead of allocating", () => {
  const pool = new BufferPool(1024, 2);
  const a = pool.get(1024);
  pool.release(a);
  const b = pool.get(100);
  assert.equal(b.buffer, a.buffer);
  assert.equal(b.length, 100);
  assert.ok(pool.owns(b));
});

Deno.test("BufferPool makes at most count buffers and then hands out plain memory", () => {
  const pool = new BufferPool(1024, 2);
  const a = pool.get(10);
  const b = pool.get(10);
  assert.equal(pool.available, 0);
  const c = pool.get(10);
  assert.ok(pool.owns(a) && pool.owns(b));
  assert.equal(pool.owns(c), false);
  pool.release(c);
  assert.equal(pool.available, 0, "plain memory does not join the pool");
  assert.equal(pool.owns(pool.get(2048)), false, "larger than size is plain memory");
});

Deno.test("BufferPool takes a buffer back once, even if released twice", () => {
  const pool = new BufferPool(1024, 2);
  const a = pool.get(10);
  pool.release(a);
  pool.release(a.subarray(3));
  assert.equal(pool.available, 2);
  assert.notEqual(pool.get(10).buffer, pool.get(10).buffer);
});

Deno.test("BufferPool.whenAvailable waits until a buffer is released", async () => {
  const pool = new BufferPool(1024, 1);
  const a = pool.get(10);
  let woke = false;
  const waiting = pool.whenAvailable().then(() => woke = true);
  await Promise.resolve();
  assert.equal(woke, false);
  pool.release(a);
  await waiting;
  assert.equal(woke, true);
  await pool.whenAvailable();
});
