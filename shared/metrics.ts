/** Prometheus helpers (prom-client) both roles' /metrics use. */
import { Counter, type Registry } from "prom-client";

/**
 * A counter that reports, at each scrape, a running total kept elsewhere
 * (by the code that does the work), so nothing is counted twice.
 */
export function totalCounter(
  registry: Registry,
  opts: { name: string; help: string; read: () => number },
): void {
  let seen = 0;
  new Counter({
    name: opts.name,
    help: opts.help,
    registers: [registry],
    collect() {
      const now = opts.read();
      if (now > seen) this.inc(now - seen);
      seen = Math.max(seen, now);
    },
  });
}
