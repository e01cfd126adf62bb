/** Child processes of the program under test, their output, and polling helpers. */

/** Absolute path of the program under test. */
export const MAIN = decodeURIComponent(new URL("../main.ts", import.meta.url).pathname);

/** A TCP port that was free a moment ago (listen on port 0, then close). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Options for {@linkcode waitFor}. */
export interface WaitOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Poll interval (default 25 ms). */
  intervalMs?: number;
  /** Describes what was awaited, for the timeout error. */
  what?: string;
}

/**
 * Polls `predicate` until it returns a truthy value, which is returned; throws
 * when `timeoutMs` passes first.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  options: WaitOptions = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    const v = await predicate();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) {
      throw new Error(
        `Timed out after ${options.timeoutMs ?? 10_000} ms waiting for ${
          options.what ?? "a condition"
        }`,
      );
    }
    await delay(options.intervalMs ?? 25);
  }
}

/** Collects a child's output stream as text while it runs. */
export class OutputCollector {
  text = "";
  readonly done: Promise<void>;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of stream) this.text += decoder.decode(chunk, { stream: true });
      } catch { /* the process died mid-write */ }
      this.text += decoder.decode();
    })();
  }

  /** Complete lines received so far. */
  lines(): string[] {
    const all = this.text.split("\n");
    all.pop();
    return all;
  }
}

/** Spawns `deno run --allow-all main.ts ...args` with every stdio piped. */
export function spawnShoal(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
}
