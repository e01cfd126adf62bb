/**
 * A real tracker pair for the benchmark: two `main.ts tracker` child processes
 * on free loopback ports, with their data in one temporary folder. Each
 * child's stderr is read line by line so the benchmark can wait for log lines
 * such as "is now primary".
 */
import type { Endpoint } from "../shared/tracker_info.ts";

/** How long a tracker may take to print an awaited log line. */
export const LOG_WAIT_TIMEOUT_MS = 20_000;
/** Log lines kept per tracker process for error messages. */
const TAIL_LINES = 40;

const MAIN_TS = `${import.meta.dirname}/../main.ts`;

/** Options for {@linkcode TrackerPair.create}. */
export interface TrackerPairOptions {
  heartbeatMs: number;
  graceMs: number;
  /** Extra `deno run` flags for the children, e.g. `--cpu-prof`. */
  denoFlags?: string[];
}

/** A line a tracker printed on stderr, with the time it arrived (`performance.now()`). */
export interface LogLine {
  text: string;
  at: number;
}

interface Waiter {
  re: RegExp;
  /** Matching lines still to let pass before resolving. */
  skip: number;
  resolve: (line: LogLine) => void;
}

/** One running tracker process and the log lines it printed. */
class TrackerProcess {
  readonly child: Deno.ChildProcess;
  readonly tail: string[] = [];
  #lines: LogLine[] = [];
  #waiters: Waiter[] = [];
  #exited = false;
  #console: string[] = [];
  #statusWaiters: ((lines: string[]) => void)[] = [];
  #stdin: WritableStreamDefaultWriter<Uint8Array> | null = null;
  readonly done: Promise<void>;

  constructor(child: Deno.ChildProcess) {
    this.child = child;
    this.done = Promise.all([
      this.#read(child.stderr, (t) => this.#line(t)),
      this.#read(child.stdout, (t) => this.#consoleLine(t)),
    ]).then(() => {});
    void child.status.then(() => this.#exited = true);
  }

  get pid(): number {
    return this.child.pid;
  }

  get exited(): boolean {
    return this.#exited;
  }

  /** Every log line printed so far that matches `re`. */
  matching(re: RegExp): LogLine[] {
    return this.#lines.filter((l) => re.test(l.text));
  }

  /** Resolves with the matching log line number `skip` (from 0), printed so far or later. */
  waitFor(re: RegExp, options: { timeoutMs: number; skip: number }): Promise<LogLine> {
    const seen = this.matching(re);
    if (seen.length > options.skip) return Promise.resolve(seen[options.skip]!);
    const { promise, resolve, reject } = Promise.withResolvers<LogLine>();
    const waiter = { re, skip: options.skip - seen.length, resolve };
    this.#waiters.push(waiter);
    const fail = (why: string) => {
      this.#waiters = this.#waiters.filter((w) => w !== waiter);
      reject(new Error(`${why} waiting for ${re}; last log lines:\n${this.tail.join("\n")}`));
    };
    const timer = setTimeout(
      () => fail(`Timed out after ${options.timeoutMs} ms`),
      options.timeoutMs,
    );
    void this.child.status.then((s) => fail(`Tracker exited with code ${s.code}`));
    return promise.finally(() => clearTimeout(timer));
  }

  /** Sends `status` to the console and resolves with its answer (up to its `connections:` line). */
  async status(): Promise<string[]> {
    const answer = Promise.withResolvers<string[]>();
    this.#statusWaiters.push(answer.resolve);
    this.#stdin ??= this.child.stdin.getWriter();
    await this.#stdin.write(new TextEncoder().encode("status\n"));
    return answer.promise;
  }

  async #read(stream: ReadableStream<Uint8Array>, onLine: (text: string) => void): Promise<void> {
    let buf = "";
    try {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          onLine(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      }
    } catch { /* the process was killed */ }
    if (buf !== "") onLine(buf);
  }

  /** A line of console output (stdout): collected until a `status` answer is complete. */
  #consoleLine(text: string): void {
    this.#console.push(text);
    if (!text.startsWith("connections:")) return;
    const lines = this.#console.splice(0);
    this.#statusWaiters.shift()?.(lines);
  }

  #line(text: string): void {
    const line = { text, at: performance.now() };
    this.tail.push(text);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
    if (this.#lines.length < 10_000) this.#lines.push(line);
    for (const w of [...this.#waiters]) {
      if (!w.re.test(text)) continue;
      if (w.skip > 0) {
        w.skip--;
        continue;
      }
      this.#waiters = this.#waiters.filter((x) => x !== w);
      w.resolve(line);
    }
  }
}

/** Two tracker processes of one pair, started and stopped on demand. */
export class TrackerPair {
  readonly dir: string;
  readonly trackers: [Endpoint, Endpoint];
  #opts: TrackerPairOptions;
  #procs: [TrackerProcess | null, TrackerProcess | null] = [null, null];

  private constructor(dir: string, trackers: [Endpoint, Endpoint], opts: TrackerPairOptions) {
    this.dir = dir;
    this.trackers = trackers;
    this.#opts = opts;
  }

  /** Makes the temporary folder and tracker_info with two free loopback ports; starts nothing. */
  static async create(opts: TrackerPairOptions): Promise<TrackerPair> {
    const dir = await Deno.makeTempDir({ prefix: "shoal-bench-" });
    const [a, b] = freePorts(2);
    const trackers: [Endpoint, Endpoint] = [
      { hostname: "127.0.0.1", port: a! },
      { hostname: "127.0.0.1", port: b! },
    ];
    await Deno.writeTextFile(`${dir}/tracker_info.txt`, `127.0.0.1:${a}\n127.0.0.1:${b}\n`);
    return new TrackerPair(dir, trackers, opts);
  }

  /** Starts tracker `n` (1 or 2); its data folder survives restarts. */
  start(n: 1 | 2): void {
    if (this.#procs[n - 1] && !this.#procs[n - 1]!.exited) {
      throw new Error(`Tracker ${n} is already running`);
    }
    const args = [
      "run",
      "--allow-all",
      ...(this.#opts.denoFlags ?? []),
      MAIN_TS,
      "tracker",
      `${this.dir}/tracker_info.txt`,
      String(n),
      "--data-dir",
      `${this.dir}/tracker${n}`,
      "--cluster-key",
      `${this.dir}/cluster.key`,
      "--heartbeat",
      String(this.#opts.heartbeatMs),
      "--grace",
      String(this.#opts.graceMs),
    ];
    const child = new Deno.Command(Deno.execPath(), {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { SHOAL_LOG: "info", NO_COLOR: "1" },
    }).spawn();
    this.#procs[n - 1] = new TrackerProcess(child);
  }

  /**
   * Waits until tracker `n` has printed a line matching `re` since it was last
   * started; with `skip`, lets that many matching lines pass first.
   */
  waitFor(
    n: 1 | 2,
    re: RegExp,
    options: { timeoutMs?: number; skip?: number } = {},
  ): Promise<LogLine> {
    return this.#proc(n).waitFor(re, {
      timeoutMs: options.timeoutMs ?? LOG_WAIT_TIMEOUT_MS,
      skip: options.skip ?? 0,
    });
  }

  /** The log lines of tracker `n` (since it was last started) that match `re`. */
  lines(n: 1 | 2, re: RegExp): LogLine[] {
    return this.#proc(n).matching(re);
  }

  /** What tracker `n`'s console answers to `status`, one string per line. */
  status(n: 1 | 2): Promise<string[]> {
    return this.#proc(n).status();
  }

  /** Process id of tracker `n`. */
  pid(n: 1 | 2): number {
    return this.#proc(n).pid;
  }

  /** Sends SIGKILL to tracker `n` right away; the returned promise resolves once it is gone. */
  kill(n: 1 | 2): Promise<void> {
    const p = this.#proc(n);
    try {
      p.child.kill("SIGKILL");
    } catch { /* already gone */ }
    return Promise.all([p.child.status, p.done]).then(() => {});
  }

  /** Asks tracker `n` to stop (SIGTERM) and waits; falls back to SIGKILL after `timeoutMs`. */
  async stop(n: 1 | 2, timeoutMs = 5000): Promise<void> {
    const p = this.#procs[n - 1];
    if (!p || p.exited) return;
    try {
      p.child.kill("SIGTERM");
    } catch { /* already gone */ }
    const timer = setTimeout(() => {
      try {
        p.child.kill("SIGKILL");
      } catch { /* already gone */ }
    }, timeoutMs);
    await Promise.all([p.child.status, p.done]);
    clearTimeout(timer);
  }

  /** Kills every tracker still running and removes the temporary folder. */
  async close(options: { keepDir?: boolean } = {}): Promise<void> {
    for (const p of this.#procs) {
      if (!p || p.exited) continue;
      try {
        p.child.kill("SIGKILL");
      } catch { /* already gone */ }
      await Promise.all([p.child.status, p.done]);
    }
    if (!options.keepDir) await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }

  #proc(n: 1 | 2): TrackerProcess {
    const p = this.#procs[n - 1];
    if (!p) throw new Error(`Tracker ${n} was never started`);
    return p;
  }
}

/** Picks `count` distinct free loopback ports by listening on port 0 and closing. */
function freePorts(count: number): number[] {
  const listeners = Array.from(
    { length: count },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const ports = listeners.map((l) => l.addr.port);
  for (const l of listeners) l.close();
  return ports;
}
