/**
 * Drop-behind for a download's `.part` file: once the whole-file hash has
 * read a stretch of it, that stretch's pages leave the page cache, so a
 * download keeps a few MiB of the file in memory instead of all of it.
 *
 * Why: every page the kernel caches for a new file is a fresh page of
 * memory. On a VM whose host takes back memory the guest has left free for
 * a few seconds, touching such a page is a trip to the host; on the 2-core
 * CI VM writing 1 GiB through the page cache then cost about 2 CPU-seconds
 * instead of 0.15. Pages given back right after use are reused while still
 * resident, so a download of any size writes into the same few MiB of
 * memory. It also spares a user's other cached files from being pushed out
 * by one large download.
 *
 * `Deno` has no `posix_fadvise`, so this calls the C library through Deno's
 * FFI, on Deno's blocking-task threads (the call may start writeback). Every
 * symbol is nonblocking: a synchronous one gets a compiled fast-call
 * trampoline, about 2 MiB more in each isolate that loads it. It needs Linux
 * with glibc and the FFI permission (`--allow-all` grants it); elsewhere
 * {@link PageDropper.open} gives null and nothing is dropped.
 * Dropping is advice: pages still dirty or under writeback stay, and the
 * next call (which covers them again) takes them.
 */

const SYMBOLS = {
  open: { parameters: ["buffer", "i32", "i32"], result: "i32", nonblocking: true },
  close: { parameters: ["i32"], result: "i32", nonblocking: true },
  posix_fadvise: { parameters: ["i32", "i64", "i64", "i32"], result: "i32", nonblocking: true },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** Linux open(2) flags and fadvise advice. */
const O_RDONLY = 0, O_CLOEXEC = 0o2000000;
const POSIX_FADV_DONTNEED = 4;

let libc: Libc | null | undefined;

/** The C library's functions, or null where they cannot be called. */
function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (Deno.build.os !== "linux") return libc;
  try {
    // Ask first: without the permission, dlopen would prompt on a terminal.
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return libc;
    libc = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  } catch {
    libc = null; // not glibc, or FFI unavailable
  }
  return libc;
}

const encoder = new TextEncoder();

/** Gives a file's cached pages back to the kernel, a range at a time. */
export class PageDropper {
  #fd: number;
  #libc: Libc;
  /** The request running, if any; one runs at a time. */
  #pending: Promise<void> | null = null;
  /** The range asked for while one ran: the union of those asks. */
  #next: [number, number] | null = null;
  #closing = false;

  private constructor(fd: number, c: Libc) {
    this.#fd = fd;
    this.#libc = c;
  }

  /** A dropper for the file at `path`, or null if pages cannot be dropped here. */
  static async open(path: string): Promise<PageDropper | null> {
    const c = loadLibc();
    if (!c) return null;
    const name = encoder.encode(`${path}\0`); // kept alive until the call returns
    const fd = await c.open(name, O_RDONLY | O_CLOEXEC, 0);
    return fd < 0 ? null : new PageDropper(fd, c);
  }

  /**
   * Asks the kernel to drop the cached pages of bytes `[from, to)` and to
   * start writing back the dirty ones (which a later call then drops).
   * Returns at once; an ask made while a request runs is sent after it.
   */
  drop(from: number, to: number): void {
    if (this.#closing || to <= from) return;
    if (!this.#pending) return this.#start(from, to);
    const n = this.#next;
    this.#next = n ? [Math.min(n[0], from), Math.max(n[1], to)] : [from, to];
  }

  /** Closes the file after the requests asked for so far. */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    if (!this.#pending) this.#closeFd();
  }

  #start(from: number, to: number): void {
    this.#pending = this.#libc
      .posix_fadvise(this.#fd, BigInt(from), BigInt(to - from), POSIX_FADV_DONTNEED)
      .then(() => {}, () => {})
      .finally(() => {
        this.#pending = null;
        const next = this.#next;
        this.#next = null;
        if (next) this.#start(next[0], next[1]);
        else if (this.#closing) this.#closeFd();
      });
  }

  #closeFd(): void {
    this.#libc.close(this.#fd).catch(() => {});
  }
}
