/** A download's rate over a sliding window, from the times its pieces arrived (no clock of its own). */

/** The window the rate is measured over. */
export const RATE_WINDOW_MS = 2000;
/** Samples kept at most; past it the older half goes. */
const MAX_SAMPLES = 64;

/** Bytes received over time; see the module comment. */
export class RateMeter {
  #samples: { t: number; bytes: number }[] = [];
  #bytes = 0;

  /** `bytes` more arrived at `now` (0 marks the start). */
  add(now: number, bytes: number): void {
    this.#bytes += bytes;
    this.#samples.push({ t: now, bytes: this.#bytes });
    if (this.#samples.length > MAX_SAMPLES) this.#samples.splice(0, MAX_SAMPLES / 2);
  }

  /** Bytes per second over the {@linkcode RATE_WINDOW_MS} before `now`. */
  rateAt(now: number): number {
    const samples = this.#samples;
    while (samples.length > 1 && now - samples[0]!.t > RATE_WINDOW_MS) samples.shift();
    const first = samples[0];
    if (!first || now - first.t < 1) return 0;
    return (this.#bytes - first.bytes) / ((now - first.t) / 1000);
  }
}
