/** Tests of the page dropper: pages leave the cache, and the prefix hash drops what it has read. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { PageDropper } from "./page_cache.ts";
import { PrefixHasher } from "./prefix_hash.ts";

const MIB = 1024 * 1024;

/** Page-cache residency is a Linux (glibc) matter; elsewhere these tests are skipped. */
const ignore = Deno.build.os !== "linux";

/** mmap and mincore from the C library, to see which of a file's pages are cached. */
const libcSymbols = () =>
  Deno.dlopen("libc.so.6", {
    open: { parameters: ["buffer", "i32", "i32"], result: "i32" },
    close: { parameters: ["i32"], result: "i32" },
    mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
    munmap: { parameters: ["pointer", "usize"], result: "i32" },
    mincore: { parameters: ["pointer", "usize", "buffer"], result: "i32" },
  }).symbols;
let libcCache: ReturnType<typeof libcSymbols> | undefined;

/** How many bytes of the first `len` of the file at `path` are in the page cache. */
function residentBytes(path: string, len: number): number {
  const libc = libcCache ??= libcSymbols();
  const fd = libc.open(new TextEncoder().encode(`${path}\0`), 0, 0);
  assert.ok(fd >= 0, "open failed");
  try {
    const PROT_READ = 1, MAP_SHARED = 1;
    const addr = libc.mmap(null, BigInt(len), PROT_READ, MAP_SHARED, fd, 0n);
    assert.notEqual(Deno.UnsafePointer.value(addr), -1n, "mmap failed");
    try {
      const vec = new Uint8Array(Math.ceil(len / 4096));
      assert.equal(libc.mincore(addr, BigInt(len), vec), 0, "mincore failed");
      return vec.reduce((n, v) => n + (v & 1), 0) * 4096;
    } finally {
      libc.munmap(addr, BigInt(len));
    }
  } finally {
    libc.close(fd);
  }
}

/** A file of `size` random bytes, written out to disk (so its cached pages are clean). */
async function cleanFile(dir: string, size: number): Promise<{ path: string; data: Uint8Array }> {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
  const path = `${dir}/f.part`;
  using f = await Deno.open(path, { write: true, create: true });
  await f.write(data);
  await f.sync();
  return { path, data };
}

async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check(), what);
}

Deno.test("PageDropper takes a range of a file out of the page cache and leaves the rest", {
  ignore,
}, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { path } = await cleanFile(dir, 8 * MIB);
    assert.equal(residentBytes(path, 8 * MIB), 8 * MIB, "a file just written is cached");
    const dropper = await PageDropper.open(path);
    assert.ok(dropper, "FFI is allowed in tests, so pages can be dropped");
    dropper.drop(0, 6 * MIB);
    await eventually(() => residentBytes(path, 6 * MIB) === 0, "the range leaves the cache");
    dropper.close();
    assert.equal(residentBytes(`${path}`, 8 * MIB), 2 * MIB, "the rest stays");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("PrefixHasher drops what it has hashed and still gets the file's SHA-1", {
  ignore,
}, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const size = 10 * MIB + 12345;
    const { path, data } = await cleanFile(dir, size);
    const h = new PrefixHasher(path, 2 * MIB);
    h.advance(4 * MIB);
    assert.equal(await h.finish(size), createHash("sha1").update(data).digest("hex"));
    // The last drop was asked for at 10 MiB (every 2 MiB from the start).
    await eventually(() => residentBytes(path, 8 * MIB) === 0, "hashed pages leave the cache");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("PageDropper.open of a missing file is null, not a throw", async () => {
  assert.equal(await PageDropper.open("/nonexistent/shoal/f.part"), null);
});
