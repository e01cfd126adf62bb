/**
 * A loopback packet capture with tcpdump (Debian's, installed by `make
 * test-deps`), written to a pcap file, and searches of its bytes: what a LAN
 * sniffer would see of the traffic on some ports.
 */

/** How long tcpdump may take to say it listens. */
const START_TIMEOUT_MS = 10_000;
/** How long tcpdump may take to flush and exit after SIGTERM. */
const STOP_TIMEOUT_MS = 10_000;
/** The file must stop growing for this long before the capture stops (tcpdump caught up). */
const SETTLE_MS = 500;
/** The most time given to tcpdump to catch up. */
const SETTLE_TIMEOUT_MS = 15_000;
/** The kernel's capture buffer, KiB. */
const CAPTURE_BUFFER_KIB = 256 * 1024;
/** Bytes of a run of the file that must not appear in the capture. */
export const RUN_BYTES = 32;
/** A run of RUN_BYTES always holds one block of this many bytes aligned in the file. */
const BLOCK = RUN_BYTES / 2;

/** tcpdump could not be started (missing, or not allowed to capture). */
export class CaptureUnavailable extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CaptureUnavailable";
  }
}

/** Whether a `tcpdump` binary can be found on PATH. */
export function hasTcpdump(): boolean {
  try {
    return new Deno.Command("tcpdump", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** A running capture of TCP traffic on `lo` to or from some ports. */
export class Capture {
  readonly path: string;
  readonly #child: Deno.ChildProcess;
  readonly #stderr: Promise<string>;

  private constructor(path: string, child: Deno.ChildProcess, stderr: Promise<string>) {
    this.path = path;
    this.#child = child;
    this.#stderr = stderr;
  }

  /**
   * Starts tcpdump on `lo` writing every TCP packet to or from `ports` to
   * `path` (packet by packet), and waits until it listens.
   */
  static async start(path: string, ports: number[]): Promise<Capture> {
    const filter = `tcp and (${ports.map((p) => `port ${p}`).join(" or ")})`;
    let child: Deno.ChildProcess;
    try {
      // -Z root: tcpdump would otherwise write the file as its own user, which
      // may not enter the run's temporary folder.
      child = new Deno.Command("tcpdump", {
        args: [
          // --immediate-mode: packets reach tcpdump as they come, not in blocks that a
          // stop would drop; -U: each is written as it is read, so the file shows
          // how far tcpdump got.
          ...["-i", "lo", "--immediate-mode", "-U", "-n", "-s", "0", "-Z", "root", "-w", path],
          // A large kernel buffer (KiB): a loopback download outruns tcpdump's writes.
          ...["-B", String(CAPTURE_BUFFER_KIB), filter],
        ],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
    } catch (err) {
      throw new CaptureUnavailable(`cannot run tcpdump: ${(err as Error).message}`, { cause: err });
    }
    let text = "";
    let listening: () => void = () => {};
    const heard = new Promise<void>((resolve) => listening = resolve);
    const stderr = (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        text += chunk;
        if (text.includes("listening on")) listening();
      }
      return text;
    })();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      heard.then(() => "listening" as const),
      child.status.then(() => "exited" as const),
      new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), START_TIMEOUT_MS)),
    ]);
    clearTimeout(timer);
    if (outcome !== "listening") {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
      throw new CaptureUnavailable(`tcpdump did not start (${outcome}): ${(await stderr).trim()}`);
    }
    return new Capture(path, child, stderr);
  }

  /**
   * Waits until tcpdump has written what the kernel holds for it (the file
   * stops growing, so stop the traffic first: on SIGTERM it would drop what
   * it has not read), stops the capture, and
   * returns the pcap file's bytes and how many packets the kernel dropped.
   */
  async stop(): Promise<{ pcap: Uint8Array; dropped: number }> {
    const deadline = Date.now() + SETTLE_TIMEOUT_MS;
    for (let size = -1; Date.now() < deadline;) {
      const now = await Deno.stat(this.path).then((s) => s.size, () => 0);
      if (now === size) break;
      size = now;
      await new Promise((r) => setTimeout(r, SETTLE_MS));
    }
    try {
      this.#child.kill("SIGTERM");
    } catch { /* gone */ }
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* gone */ }
    }, STOP_TIMEOUT_MS);
    await this.#child.status.finally(() => clearTimeout(timer));
    const said = await this.#stderr;
    const dropped = Number(/(\d+) packets? dropped by kernel/.exec(said)?.[1] ?? "0");
    return { pcap: await Deno.readFile(this.path), dropped };
  }
}

/** The first offset of `needle` in `hay`, or -1. */
export function indexOfBytes(hay: Uint8Array, needle: Uint8Array): number {
  if (needle.length === 0) return 0;
  const first = needle[0]!;
  outer: for (let i = hay.indexOf(first); i >= 0 && i <= hay.length - needle.length;) {
    for (let k = 1; k < needle.length; k++) {
      if (hay[i + k] !== needle[k]) {
        i = hay.indexOf(first, i + 1);
        continue outer;
      }
    }
    return i;
  }
  return -1;
}

/**
 * Where in `hay` a run of at least {@linkcode RUN_BYTES} consecutive bytes
 * of `file` appears (the offset in `hay`), or -1. Every such run holds one of
 * the file's aligned 16-byte blocks whole; those are indexed by their first
 * four bytes, and each hit in `hay` is extended both ways.
 */
export function findFileRun(hay: Uint8Array, file: Uint8Array): number {
  const fv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const blocks = new Map<number, number[]>();
  for (let off = 0; off + BLOCK <= file.length; off += BLOCK) {
    const key = fv.getUint32(off);
    const list = blocks.get(key);
    if (list) list.push(off);
    else blocks.set(key, [off]);
  }
  const hv = new DataView(hay.buffer, hay.byteOffset, hay.byteLength);
  for (let i = 0; i + 4 <= hay.length; i++) {
    const list = blocks.get(hv.getUint32(i));
    if (!list) continue;
    for (const off of list) {
      let back = 0;
      while (back < off && back < i && hay[i - back - 1] === file[off - back - 1]) back++;
      let fwd = 0;
      while (off + fwd < file.length && i + fwd < hay.length && hay[i + fwd] === file[off + fwd]) {
        fwd++;
      }
      if (back + fwd >= RUN_BYTES) return i - back;
    }
  }
  return -1;
}
