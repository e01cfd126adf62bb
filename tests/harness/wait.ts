/** Waiting in tests and benchmarks: a pause, and polling a condition until it holds. */

/** How long {@linkcode waitFor} polls before it gives up, unless told. */
const DEFAULT_TIMEOUT_MS = 10_000;
/** How often {@linkcode waitFor} polls, unless told. */
const DEFAULT_INTERVAL_MS = 25;

/** A wait ran out of time. */
export class WaitTimeoutError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "WaitTimeoutError";
  }
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
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
 * a {@linkcode WaitTimeoutError} when `timeoutMs` passes first.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  options: WaitOptions = {},
): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await predicate();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) {
      throw new WaitTimeoutError(
        `Timed out after ${timeoutMs} ms waiting for ${options.what ?? "a condition"}`,
      );
    }
    await delay(options.intervalMs ?? DEFAULT_INTERVAL_MS);
  }
}
