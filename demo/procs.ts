/** Child processes for the swarm benchmark: trackers and peer shells driven over stdin/stdout. */
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const enc = new TextEncoder();

/** A free loopback port (bound, read, released). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A running shoal process whose output lines are collected. */
export class Proc {
  readonly child: Deno.ChildProcess;
  readonly lines: string[] = [];
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #waiters: (() => void)[] = [];

  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", MAIN, ...args],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env,
    }).spawn();
    this.#writer = this.child.stdin.getWriter();
    this.#collect(this.child.stdout);
    this.#collect(this.child.stderr);
  }

  get pid(): number {
    return this.child.pid;
  }

  async #collect(stream: ReadableStream<Uint8Array>): Promise<void> {
    let buf = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      const parts = buf.split("\n");
      buf = parts.pop()!;
      this.lines.push(...parts);
      for (const w of this.#waiters.splice(0)) w();
    }
  }

  /** Writes one command line to the process's stdin. */
  async send(line: string): Promise<void> {
    await this.#writer.write(enc.encode(line + "\n"));
  }

  /** Waits for an output line matching `re` (after index `from`); returns it. */
  async waitFor(re: RegExp, timeoutMs = 120_000, from = 0): Promise<string> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.slice(from).find((l) => re.test(l));
      if (hit) return hit;
      if (Date.now() > end) {
        throw new Error(
          `timed out waiting for ${re}; last lines:\n${this.lines.slice(-10).join("\n")}`,
        );
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, 200);
        this.#waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Stops the process. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<void> {
    try {
      this.child.kill(signal);
    } catch { /* gone */ }
    await this.child.status;
    await this.#writer.close().catch(() => {});
  }
}

/** CPU seconds (user + system) of a process so far, from /proc. */
export function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** Peak resident memory of a process in MiB, from /proc. */
export function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
  return m ? Number(m[1]) / 1024 : NaN;
}
