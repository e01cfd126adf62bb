/**
 * Samples what testbed hosts receive (their link's rx counter, all
 * protocols) at a fixed interval, for the MB/s-over-time chart of the LAN
 * flash crowd.
 */
import type { Testbed } from "../tests/harness/netns.ts";
import type { RxSeries } from "./_results.ts";

/** Time between samples. */
export const RX_SAMPLE_MS = 250;

/** A running sampler; {@linkcode RxSampler.t0} is when its series start. */
export class RxSampler {
  /** performance.now() at the baseline reading; the series' times count from here. */
  readonly t0: number;
  readonly #series: RxSeries[];
  #running = true;
  readonly #loop: Promise<void>;

  private constructor(bed: Testbed, hosts: string[], base: number[]) {
    this.t0 = performance.now();
    this.#series = hosts.map((host) => ({ host, t: [0], bytes: [0] }));
    this.#loop = this.#run(bed, hosts, base);
  }

  /** Reads every host's counter once as the baseline, then samples every {@link RX_SAMPLE_MS}. */
  static async start(bed: Testbed, hosts: string[]): Promise<RxSampler> {
    const base = await Promise.all(hosts.map((h) => bed.rxBytes(h)));
    return new RxSampler(bed, hosts, base);
  }

  async #run(bed: Testbed, hosts: string[], base: number[]): Promise<void> {
    for (let k = 1; this.#running; k++) {
      const wait = this.t0 + k * RX_SAMPLE_MS - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      await this.#sample(bed, hosts, base);
    }
  }

  async #sample(bed: Testbed, hosts: string[], base: number[]): Promise<void> {
    const now = await Promise.all(hosts.map((h) => bed.rxBytes(h)));
    const t = (performance.now() - this.t0) / 1000;
    for (const [i, s] of this.#series.entries()) {
      s.t.push(+t.toFixed(3));
      s.bytes.push(now[i]! - base[i]!);
    }
  }

  /** Stops after the sample under way; returns each host's series. */
  async stop(): Promise<RxSeries[]> {
    this.#running = false;
    await this.#loop;
    return this.#series;
  }
}
