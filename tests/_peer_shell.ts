/** `shoal peer` shells: fed a whole script, or driven one command at a time. */
import { freePort, OutputCollector, spawnShoal, waitFor } from "./_process.ts";

const encoder = new TextEncoder();

/** Options for a peer process. */
export interface PeerOptions {
  /** The peer's state directory (default: a fresh one under the pair's directory). */
  stateDir?: string;
  /** The peer's own address (default: 127.0.0.1 and a free port). */
  addr?: string;
}

/** The outcome of a peer run. */
export interface PeerRun {
  code: number;
  stdout: string[];
  stderr: string;
}

function peerArgs(infoPath: string, options: PeerOptions): string[] {
  const args = ["peer", options.addr ?? `127.0.0.1:${freePort()}`, infoPath];
  if (options.stateDir) args.push("--state-dir", options.stateDir);
  return args;
}

/** Runs `shoal peer` with `lines` piped to stdin; resolves when it exits at end of input. */
export async function runPeer(
  infoPath: string,
  lines: string[],
  options: PeerOptions = {},
): Promise<PeerRun> {
  const child = spawnShoal(peerArgs(infoPath, options));
  const stdout = new OutputCollector(child.stdout);
  const stderr = new OutputCollector(child.stderr);
  try {
    const w = child.stdin.getWriter();
    await w.write(encoder.encode(lines.map((l) => l + "\n").join("")));
    await w.close();
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const status = await child.status;
    clearTimeout(timer);
    await Promise.all([stdout.done, stderr.done]);
    return { code: status.code, stdout: stdout.lines(), stderr: stderr.text };
  } catch (err) {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
    await Promise.all([stdout.done, stderr.done]);
    throw err;
  }
}

/**
 * A running `shoal peer` shell driven one command at a time. After each
 * command it types an unknown marker command; the shell answers every line in
 * order, so the lines before the marker's error line are the command's output.
 */
export class PeerShell {
  readonly child: Deno.ChildProcess;
  readonly stdout: OutputCollector;
  readonly stderr: OutputCollector;
  /** What the shell printed before the first command (e.g. a resumed session). */
  greeting: string[] = [];
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #seen = 0;
  #marks = 0;
  #closed: Promise<PeerRun> | null = null;

  private constructor(child: Deno.ChildProcess) {
    this.child = child;
    this.stdout = new OutputCollector(child.stdout);
    this.stderr = new OutputCollector(child.stderr);
    this.#stdin = child.stdin.getWriter();
  }

  /** Starts a peer shell and waits until it reads commands. */
  static async start(infoPath: string, options: PeerOptions = {}): Promise<PeerShell> {
    const shell = new PeerShell(spawnShoal(peerArgs(infoPath, options)));
    try {
      shell.greeting = await shell.#sync();
    } catch (err) {
      await shell.close();
      throw err;
    }
    return shell;
  }

  /** Runs one command line; returns the lines it printed. */
  async run(line: string): Promise<string[]> {
    await this.#stdin.write(encoder.encode(line + "\n"));
    return await this.#sync();
  }

  async #sync(): Promise<string[]> {
    const mark = `__sync_${++this.#marks}`;
    await this.#stdin.write(encoder.encode(mark + "\n"));
    const lines = await waitFor(() => {
      const all = this.stdout.lines();
      const at = all.findIndex((l, i) => i >= this.#seen && l.includes(mark));
      if (at >= 0) {
        const out = all.slice(this.#seen, at);
        this.#seen = at + 1;
        return out;
      }
      return null;
    }, { timeoutMs: 30_000, what: `the shell's answer (stdout so far: ${this.stdout.text})` });
    return lines;
  }

  /** Closes stdin (end of input) and waits for the shell to exit; kills it if it does not. */
  close(): Promise<PeerRun> {
    this.#closed ??= (async () => {
      await this.#stdin.close().catch(() => {});
      const timer = setTimeout(() => {
        try {
          this.child.kill("SIGKILL");
        } catch { /* already gone */ }
      }, 20_000);
      const status = await this.child.status;
      clearTimeout(timer);
      await Promise.all([this.stdout.done, this.stderr.done]);
      return {
        code: status.code,
        stdout: this.stdout.lines().slice(this.#seen),
        stderr: this.stderr.text,
      };
    })();
    return this.#closed;
  }
}
