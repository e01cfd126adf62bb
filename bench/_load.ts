/**
 * Load generators over {@linkcode WireClient}: sequential latency samples and
 * fixed-duration throughput runs with many connections.
 */
import type { Endpoint } from "../shared/tracker_info.ts";
import { type LatencySummary, startCpuMeter, summarize } from "./_stats.ts";
import { WireClient } from "./_wire_client.ts";

/** Makes the arguments of request `seq` on lane `lane` (a lane is one in-flight request slot). */
export type ArgsFn = (lane: number, seq: number) => Record<string, unknown>;

/** Sends `count` requests one after the other and returns each one's latency in ms. */
export async function sequentialLatency(
  client: WireClient,
  options: { cmd: string; args: ArgsFn; count: number; lane?: number },
): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < options.count; i++) {
    const args = options.args(options.lane ?? 0, i);
    const t0 = performance.now();
    const res = await client.request(options.cmd, args);
    const t1 = performance.now();
    if (!res.ok) throw new Error(`${options.cmd} failed: ${res.error}`);
    samples.push(t1 - t0);
  }
  return samples;
}

/** Options for {@linkcode throughput}. */
export interface ThroughputOptions {
  to: Endpoint;
  /** The cluster's CA certificate (PEM), to check the tracker with. */
  ca: string;
  token: string;
  cmd: string;
  args: ArgsFn;
  /** Connections, each its own client. */
  clients: number;
  /** Requests each connection keeps in flight (1: strictly sequential). */
  depth: number;
  durationMs: number;
  /** Processes whose CPU use is reported, by name. */
  processes: Record<string, number>;
}

/** What a throughput run measured. */
export interface ThroughputResult {
  clients: number;
  depth: number;
  ops: number;
  errors: number;
  firstError: string | null;
  seconds: number;
  opsPerSec: number;
  latency: LatencySummary;
  /**
   * CPU use of each named process during the run, in percent of one core;
   * `other` is what the rest of the machine used meanwhile (noise).
   */
  cpuPercent: Record<string, number | null>;
}

/** Runs `clients × depth` request loops against one tracker for a fixed time. */
export async function throughput(options: ThroughputOptions): Promise<ThroughputResult> {
  const clients = await Promise.all(
    Array.from(
      { length: options.clients },
      (_, i) => WireClient.connect(options.to, { name: `c${i}`, ca: options.ca }),
    ),
  );
  for (const c of clients) c.token = options.token;
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | null = null;
  const meter = startCpuMeter(options.processes);
  const start = performance.now();
  const end = start + options.durationMs;
  const loop = async (client: WireClient, lane: number) => {
    for (let seq = 0; performance.now() < end; seq++) {
      const args = options.args(lane, seq);
      const t0 = performance.now();
      const res = await client.request(options.cmd, args);
      if (res.ok) latencies.push(performance.now() - t0);
      else {
        errors++;
        firstError ??= res.error ?? res.code ?? "failed";
      }
    }
  };
  try {
    await Promise.all(
      clients.flatMap((c, i) =>
        Array.from({ length: options.depth }, (_, d) => loop(c, i * options.depth + d))
      ),
    );
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
  const seconds = (performance.now() - start) / 1000;
  const cpuPercent = meter.stop();
  return {
    clients: options.clients,
    depth: options.depth,
    ops: latencies.length,
    errors,
    firstError,
    seconds,
    opsPerSec: latencies.length / seconds,
    latency: summarize(latencies),
    cpuPercent,
  };
}
