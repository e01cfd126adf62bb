/**
 * `shoal peer` shells: driven one command at a time while the peer keeps
 * running, or fed a whole script. After each command the driver types a
 * marker (an unknown command); the shell answers lines in order, so what it
 * prints between the previous marker's error line and this one's belongs to
 * the command.
 */
import assert from "node:assert/strict";
import { freePort } from "./ports.ts";
import { ShoalProcess } from "./process.ts";
import { cpuSeconds, ioBytes, peakRssMiB } from "./proc_stats.ts";

/** How long a command may take to be answered unless told. */
const RUN_TIMEOUT_MS = 30_000;
/** How long a shell gets to exit at the end of its input before it is killed. */
const CLOSE_TIMEOUT_MS = 20_000;
/** How long a whole script may run before the shell is killed. */
const SCRIPT_TIMEOUT_MS = 60_000;
/** The marker commands' name; their error lines are left out of every answer. */
const MARK = "__sync_";

/** Options for a peer process. */
export interface ShellOptions {
  /** The peer's state directory. */
  stateDir?: string;
  /** The peer's own `ip:port` (default: 127.0.0.1 and a free port). */
  addr?: string;
  /** A name for messages (default: the address). */
  label?: string;
  /** `--workers`. */
  workers?: number;
  /** `SHOAL_LOG` for this process (default: the peer's own default, warnings). */
  logLevel?: "debug" | "info" | "warning" | "error";
  /** A command the peer runs behind, e.g. `["ip", "netns", "exec", ns]`. */
  prefix?: string[];
}

/** The outcome of a peer run. */
export interface PeerRun {
  code: number;
  stdout: string[];
  stderr: string;
}

/** Asynchronous notices, left out of a command's lines. */
export function isNotice(line: string): boolean {
  return /^(download of .* (complete|failed)|stopped sharing .*: |resuming download )/.test(line);
}

function spawnPeer(infoPath: string, options: ShellOptions): ShoalProcess {
  const addr = options.addr ?? `127.0.0.1:${freePort()}`;
  const args = ["peer", addr, infoPath];
  if (options.stateDir) args.push("--state-dir", options.stateDir);
  if (options.workers !== undefined) args.push("--workers", String(options.workers));
  return new ShoalProcess(args, {
    name: options.label ?? addr,
    prefix: options.prefix,
    env: options.logLevel ? { SHOAL_LOG: options.logLevel } : {},
  });
}

/** Runs `shoal peer` with `lines` piped to stdin; resolves when it exits at end of input. */
export async function runPeer(
  infoPath: string,
  lines: string[],
  options: ShellOptions = {},
): Promise<PeerRun> {
  const p = spawnPeer(infoPath, options);
  try {
    if (lines.length > 0) await p.type(lines.join("\n"));
    await p.endInput();
    const timer = setTimeout(() => p.signal("SIGKILL"), SCRIPT_TIMEOUT_MS);
    const status = await p.finish();
    clearTimeout(timer);
    return { code: status.code, stdout: [...p.stdout.lines()], stderr: p.stderr.text };
  } catch (err) {
    await p.kill();
    throw err;
  }
}

/** A running `shoal peer` shell driven one command at a time. */
export class PeerShell {
  readonly proc: ShoalProcess;
  readonly addr: string;
  readonly stateDir: string;
  readonly label: string;
  /** What the shell printed before the first command (e.g. a resumed session). */
  greeting: string[] = [];
  /** Line index of each marker's answer, as found. */
  readonly #markAt = new Map<number, number>();
  #scanned = 0;
  #marks = 0;
  #closed: Promise<PeerRun> | null = null;

  private constructor(infoPath: string, options: ShellOptions) {
    this.addr = options.addr ?? `127.0.0.1:${freePort()}`;
    this.stateDir = options.stateDir ?? "";
    this.label = options.label ?? this.addr;
    this.proc = spawnPeer(infoPath, { ...options, addr: this.addr, label: this.label });
  }

  /** Starts a peer shell and waits until it reads commands. */
  static async start(infoPath: string, options: ShellOptions = {}): Promise<PeerShell> {
    const shell = new PeerShell(infoPath, options);
    try {
      shell.greeting = await shell.run("");
    } catch (err) {
      await shell.kill();
      throw err;
    }
    return shell;
  }

  /** Everything printed on stdout so far. */
  get stdout(): string {
    return this.proc.stdout.text;
  }

  /** Everything logged on stderr so far. */
  get stderr(): string {
    return this.proc.stderr.text;
  }

  /** The running child process. */
  get child(): Deno.ChildProcess {
    return this.proc.child;
  }

  /** The process id. */
  get pid(): number {
    return this.proc.pid;
  }

  /** True while the process runs. */
  get alive(): boolean {
    return this.proc.alive;
  }

  /** Set once the process has exited. */
  get exit(): Deno.CommandStatus | null {
    return this.proc.exit;
  }

  /**
   * Runs one command line; returns the lines it printed (asynchronous notices
   * left out). Commands may overlap: each answer ends at its own marker.
   */
  async run(line: string, timeoutMs = RUN_TIMEOUT_MS): Promise<string[]> {
    const prev = this.#marks;
    const mark = ++this.#marks;
    await this.proc.type(`${line}\n${MARK}${mark}`);
    const { end } = await this.proc.until(() => this.#find(mark), {
      timeoutMs,
      what: `${this.label}'s answer to "${line}"`,
    });
    const from = prev === 0 ? 0 : this.#markAt.get(prev)! + 1;
    return this.proc.stdout.lines().slice(from, end).filter((l) => !isNotice(l));
  }

  /** The line index of marker `mark`'s answer, once printed. */
  #find(mark: number): { end: number } | null {
    const lines = this.proc.stdout.lines();
    for (; this.#scanned < lines.length; this.#scanned++) {
      const m = /"__sync_(\d+)"/.exec(lines[this.#scanned]!);
      if (m) this.#markAt.set(Number(m[1]), this.#scanned);
    }
    const end = this.#markAt.get(mark);
    return end === undefined ? null : { end };
  }

  /** Runs a command that must print exactly one line that is not an error; returns it. */
  async ok(line: string, timeoutMs?: number): Promise<string> {
    const out = await this.run(line, timeoutMs);
    assert.equal(out.length, 1, `${this.label}: "${line}" printed ${JSON.stringify(out)}`);
    assert.ok(!out[0]!.startsWith("error: "), `${this.label}: "${line}" failed: ${out[0]}`);
    return out[0]!;
  }

  /** Runs a command that must print exactly one `error: ` line; returns it. */
  async error(line: string, timeoutMs?: number): Promise<string> {
    const out = await this.run(line, timeoutMs);
    assert.equal(out.length, 1, `${this.label}: "${line}" printed ${JSON.stringify(out)}`);
    assert.match(out[0]!, /^error: /, `${this.label}: "${line}" did not fail`);
    return out[0]!;
  }

  /** The `show_downloads` line of `name` ("" when it is not listed). */
  async line(name: string): Promise<string> {
    return (await this.run("show_downloads")).find((l) => l.includes(`] ${name}`)) ?? "";
  }

  /** Waits until stdout (from offset `since`) matches `re`. */
  waitStdout(
    re: RegExp,
    options: { since?: number; timeoutMs?: number } = {},
  ): Promise<RegExpExecArray> {
    return this.proc.waitForStdout(re, { timeoutMs: RUN_TIMEOUT_MS, ...options });
  }

  /** The bytes this process has read and written so far (`/proc/<pid>/io`). */
  io(): { rchar: number; wchar: number } {
    return ioBytes(this.pid);
  }

  /** CPU seconds (user + system) this process has used so far. */
  cpuSeconds(): number {
    return cpuSeconds(this.pid) ?? NaN;
  }

  /** This process's peak resident memory in MiB. */
  peakRssMiB(): number {
    return peakRssMiB(this.pid);
  }

  /** Sends `signal` (e.g. SIGSTOP, SIGCONT) without waiting for anything. */
  signal(signal: Deno.Signal): void {
    this.proc.signal(signal);
  }

  /** Kills the process (SIGKILL by default) and waits for it and its output. */
  async kill(signal: Deno.Signal = "SIGKILL"): Promise<void> {
    await this.proc.kill(signal);
  }

  /** Types `quit` and waits for the process to exit. */
  async quit(): Promise<void> {
    await this.proc.type("quit");
    await this.proc.until(() => this.exit, { timeoutMs: CLOSE_TIMEOUT_MS, what: "its exit" });
    await this.proc.finish();
  }

  /** Ends the shell's input and waits for it to exit (killed after 20 s). */
  close(): Promise<PeerRun> {
    this.#closed ??= (async () => {
      await this.proc.endInput();
      const timer = setTimeout(() => this.signal("SIGKILL"), CLOSE_TIMEOUT_MS);
      const status = await this.proc.finish().finally(() => clearTimeout(timer));
      this.#find(this.#marks);
      const last = this.#markAt.get(this.#marks) ?? -1;
      return {
        code: status.code,
        stdout: this.proc.stdout.lines().slice(last + 1),
        stderr: this.stderr,
      };
    })();
    return this.#closed;
  }

  /** Output and the end of the log, for failure messages. */
  describe(): string {
    return this.proc.describe().split("\n").filter((l) => !l.includes(`"${MARK}`)).join("\n");
  }
}
