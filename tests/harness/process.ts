/**
 * Child processes of the program under test (`deno run main.ts <role> ...`),
 * or of another script, optionally behind a command prefix such as
 * `ip netns exec <ns>`: their output collected, lines awaited as they arrive,
 * and signals.
 */
import { type Line, Output } from "./output.ts";
import { WaitTimeoutError } from "./wait.ts";

/** Absolute path of the program under test. */
export const MAIN = decodeURIComponent(new URL("../../main.ts", import.meta.url).pathname);
/** The repository root, where `deno.json` lives. */
export const ROOT = decodeURIComponent(new URL("../..", import.meta.url).pathname);

/** How long a wait for output lasts unless told. */
const WAIT_TIMEOUT_MS = 15_000;
/** How long {@linkcode stopChild} gives a process after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 5_000;
/** Characters of stderr kept in a failure message. */
const DESCRIBE_TAIL = 4_000;

const encoder = new TextEncoder();

/** A process exited while something was awaited from it. */
export class ProcessExitedError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProcessExitedError";
  }
}

/** Options for {@linkcode ShoalProcess}. */
export interface ProcessOptions {
  /** A name for messages (default: the first argument). */
  name?: string;
  /** The module `deno run` starts (default {@linkcode MAIN}). */
  script?: string;
  /** A command that runs deno, e.g. `["ip", "netns", "exec", ns]`. */
  prefix?: string[];
  /** Extra `deno run` flags, e.g. `--cpu-prof`. */
  denoFlags?: string[];
  /** Extra environment variables (NO_COLOR is always set). */
  env?: Record<string, string>;
}

/** Where a wait looks, and from where. */
export interface OutputWait {
  /** Offset into the text, or line index for {@linkcode ShoalProcess.waitForLine}. */
  since?: number;
  timeoutMs?: number;
}

/** Sends SIGTERM, then SIGKILL after `graceMs`, and waits for the exit. */
export async function stopChild(
  child: Deno.ChildProcess,
  graceMs = STOP_GRACE_MS,
): Promise<Deno.CommandStatus> {
  kill(child, "SIGTERM");
  const timer = setTimeout(() => kill(child, "SIGKILL"), graceMs);
  try {
    return await child.status;
  } finally {
    clearTimeout(timer);
  }
}

function kill(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    child.kill(signal);
  } catch { /* already gone */ }
}

/** A running `deno run --allow-all <script> ...args` with every stdio piped. */
export class ShoalProcess {
  readonly name: string;
  readonly child: Deno.ChildProcess;
  readonly stdout: Output;
  readonly stderr: Output;
  /** Set once the process has exited. */
  exit: Deno.CommandStatus | null = null;
  /** Resolves with the exit status. */
  readonly exited: Promise<Deno.CommandStatus>;
  #ended = false;
  readonly #endedP: Promise<void>;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;

  constructor(args: string[], options: ProcessOptions = {}) {
    this.name = options.name ?? args[0] ?? "process";
    const prefix = options.prefix ?? [];
    const deno = [Deno.execPath(), "run", "--allow-all", ...(options.denoFlags ?? [])];
    const cmd = [...prefix, ...deno, options.script ?? MAIN, ...args];
    this.child = new Deno.Command(cmd[0]!, {
      args: cmd.slice(1),
      cwd: ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...options.env },
    }).spawn();
    this.stdout = new Output(this.child.stdout);
    this.stderr = new Output(this.child.stderr);
    this.#stdin = this.child.stdin.getWriter();
    this.exited = this.child.status.then((s) => this.exit = s);
    this.#endedP = Promise.all([this.exited, this.stdout.done, this.stderr.done])
      .then(() => void (this.#ended = true));
  }

  /** The process id (with `ip netns exec`, deno's own: it execs in place). */
  get pid(): number {
    return this.child.pid;
  }

  /** True while the process runs. */
  get alive(): boolean {
    return this.exit === null;
  }

  /** Current length of the log (stderr), to wait only for what is logged after it. */
  mark(): number {
    return this.stderr.text.length;
  }

  /** Writes one line to stdin. */
  async type(line: string): Promise<void> {
    await this.#stdin.write(encoder.encode(line + "\n"));
  }

  /** Closes stdin (end of input). */
  async endInput(): Promise<void> {
    await this.#stdin.close().catch(() => {});
  }

  /**
   * Resolves with `probe()`'s first truthy value, tried again at every chunk
   * of output; throws when the process has ended or `timeoutMs` passes first.
   */
  async until<T>(
    probe: () => T | null | undefined | false,
    options: { timeoutMs?: number; what: string },
  ): Promise<T> {
    const timeoutMs = options.timeoutMs ?? WAIT_TIMEOUT_MS;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const ended = this.#ended;
      const events = [this.stdout, this.stderr].filter((o) => !o.ended).map((o) => o.next());
      const more = Promise.race([...events, this.alive ? this.exited : this.#endedP]);
      const hit = probe();
      if (hit) return hit;
      if (ended) {
        throw new ProcessExitedError(
          `${this.name} exited (${this.exit?.code}) before ${options.what}\n${this.describe()}`,
        );
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new WaitTimeoutError(
          `Timed out after ${timeoutMs} ms waiting for ${options.what}\n${this.describe()}`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([more, new Promise((r) => timer = setTimeout(r, left))]);
      clearTimeout(timer);
    }
  }

  /** Waits until the log (stderr text from offset `since`) matches `re`. */
  waitForLog(re: RegExp, options: OutputWait = {}): Promise<RegExpExecArray> {
    const what = `${re} in the log of ${this.name}`;
    return this.until(() => re.exec(this.stderr.text.slice(options.since ?? 0)), {
      ...options,
      what,
    });
  }

  /** Waits until stdout (text from offset `since`) matches `re`. */
  waitForStdout(re: RegExp, options: OutputWait = {}): Promise<RegExpExecArray> {
    const what = `${re} on the stdout of ${this.name}`;
    return this.until(() => re.exec(this.stdout.text.slice(options.since ?? 0)), {
      ...options,
      what,
    });
  }

  /** Waits for a line of `stream` (from line `since`) matching `re`; returns it with its time. */
  waitForLine(
    re: RegExp,
    options: OutputWait & { stream?: "stdout" | "stderr" } = {},
  ): Promise<Line> {
    const out = options.stream === "stderr" ? this.stderr : this.stdout;
    let from = options.since ?? 0;
    return this.until(() => {
      const lines = out.lines();
      for (; from < lines.length; from++) if (re.test(lines[from]!)) return out.line(from);
      return null;
    }, { ...options, what: `${re} in the ${options.stream ?? "stdout"} of ${this.name}` });
  }

  /** Sends `signal` (e.g. SIGSTOP, SIGCONT) without waiting for anything. */
  signal(signal: Deno.Signal): void {
    kill(this.child, signal);
  }

  /** Sends `signal` (SIGKILL by default) and waits for the exit and the end of its output. */
  async kill(signal: Deno.Signal = "SIGKILL"): Promise<Deno.CommandStatus> {
    if (this.alive) kill(this.child, signal);
    return await this.finish();
  }

  /** Sends SIGTERM, then SIGKILL after `graceMs`, and waits as {@linkcode kill} does. */
  async stop(graceMs = STOP_GRACE_MS): Promise<Deno.CommandStatus> {
    if (this.alive) await stopChild(this.child, graceMs);
    return await this.finish();
  }

  /** Waits for the exit and the end of the output, and releases stdin. */
  async finish(): Promise<Deno.CommandStatus> {
    const status = await this.exited;
    await this.endInput();
    await this.#endedP;
    return status;
  }

  /** Output and the end of the log, for failure messages. */
  describe(): string {
    return `--- ${this.name} stdout ---\n${this.stdout.text}\n--- ${this.name} stderr ---\n${
      this.stderr.text.slice(-DESCRIBE_TAIL)
    }`;
  }
}
