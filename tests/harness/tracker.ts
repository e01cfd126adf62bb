/** One `shoal tracker` process: its role changes awaited in its log, its console driven. */
import { type ProcessOptions, ShoalProcess } from "./process.ts";

/** How long a tracker may take to start and settle its role. */
const START_TIMEOUT_MS = 15_000;

/** What a tracker's console `status` command shows. */
export interface TrackerStatus {
  role: string;
  epoch: number;
  /** Index of its last log entry. */
  index: number;
  commitIndex: number;
  /** The line about the other tracker, e.g. "other tracker: connected, secondary, ...". */
  other: string;
  /** Open client connections. */
  connections: number;
  /** The merge conflicts it lists (`conflict: ...` lines). */
  conflicts: string[];
}

/** A tracker's status did not read as expected. */
export class TrackerStatusError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TrackerStatusError";
  }
}

/** A `shoal tracker` process, tracker 1 or 2 of its pair. */
export class TrackerProcess extends ShoalProcess {
  readonly n: 1 | 2;
  #marks = 0;

  constructor(n: 1 | 2, args: string[], options: ProcessOptions = {}) {
    super(args, { name: `tracker ${n}`, ...options });
    this.n = n;
  }

  /** Waits for "Tracker n is now primary (epoch e)"; returns the epoch. */
  async waitPrimary(options: { since?: number; timeoutMs?: number } = {}): Promise<number> {
    const re = new RegExp(`Tracker ${this.n} is now primary \\(epoch (\\d+)\\)`);
    const m = await this.waitForLog(re, { timeoutMs: START_TIMEOUT_MS, ...options });
    return Number(m[1]);
  }

  /** Waits for "Caught up with the primary at index i"; returns the index. */
  async waitCaughtUp(options: { since?: number; timeoutMs?: number } = {}): Promise<number> {
    const re = /Caught up with the primary at index (\d+)/;
    const m = await this.waitForLog(re, { timeoutMs: START_TIMEOUT_MS, ...options });
    return Number(m[1]);
  }

  /** Types a line on the tracker's console. */
  async console(line: string): Promise<void> {
    await this.type(line);
  }

  /**
   * Runs `status` on the console; returns its lines from `tracker n:` on. An
   * unknown command typed after it marks the end (the console answers in order).
   */
  async statusLines(): Promise<string[]> {
    const before = this.stdout.lines().length;
    const mark = `"__end_${++this.#marks}"`;
    await this.console(`status\n${mark.slice(1, -1)}`);
    return await this.until(() => {
      const out = this.stdout.lines().slice(before);
      const at = out.findIndex((l) => l.startsWith(`tracker ${this.n}: `));
      const end = out.findIndex((l) => l.includes(mark));
      return at >= 0 && end > at ? out.slice(at, end) : null;
    }, { what: `the status of tracker ${this.n}` });
  }

  /** Runs `status` on the console and parses it. */
  async status(): Promise<TrackerStatus> {
    const lines = await this.statusLines();
    const m = /^tracker \d: (\w+), epoch (\d+), last op (\d+) \(committed (\d+)\)/.exec(lines[0]!);
    const c = lines.map((l) => /^connections: (\d+)$/.exec(l)).find((x) => x);
    if (!m || !c) {
      throw new TrackerStatusError(`Unexpected status of tracker ${this.n}:\n${lines.join("\n")}`);
    }
    return {
      role: m[1]!,
      epoch: Number(m[2]),
      index: Number(m[3]),
      commitIndex: Number(m[4]),
      other: lines[1]!,
      connections: Number(c[1]),
      conflicts: lines.filter((l) => l.startsWith("conflict: ")),
    };
  }

  /** The log (stderr) so far. */
  log(): string {
    return this.stderr.text;
  }
}
