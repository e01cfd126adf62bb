/**
 * A swarm on the namespace testbed (tests/harness/netns.ts): both trackers on
 * host "t", each peer on its own host, every process a real `shoal` started
 * with `ip netns exec`, its shell driven one command at a time. Everything is
 * killed and removed afterwards; without the rights to make namespaces
 * {@linkcode NetSwarm.run} prints one "skipped: ..." line and returns.
 */
import { inNetns, Testbed } from "./netns.ts";
import type { PeerShell } from "./shell.ts";
import { Swarm } from "./swarm.ts";

/** The tracker and peer ports on their hosts. */
const TRACKER_PORTS = [5000, 7000] as const;
const PEER_PORT = 6001;

/** Trackers on host "t" (with their own heartbeat and grace); peers on their own hosts. */
export class NetSwarm {
  readonly bed: Testbed;
  readonly swarm: Swarm;

  private constructor(bed: Testbed, swarm: Swarm) {
    this.bed = bed;
    this.swarm = swarm;
  }

  /** Makes the testbed with `hosts` (and "t"), starts the trackers and runs `fn`. */
  static async run(
    tag: string,
    hosts: string[],
    fn: (net: NetSwarm) => Promise<void>,
  ): Promise<void> {
    const bed = await Testbed.create(tag, ["t", ...hosts]);
    if (typeof bed === "string") {
      console.log(bed);
      return;
    }
    try {
      const [a, b] = TRACKER_PORTS.map((port) => ({ hostname: bed.addr("t"), port }));
      await Swarm.run((swarm) => fn(new NetSwarm(bed, swarm)), {
        dirPrefix: `shoal-${tag}-`,
        pair: {
          endpoints: [a!, b!],
          prefix: inNetns(bed.ns("t")),
          heartbeatMs: null,
          graceMs: null,
        },
      });
    } finally {
      await bed.destroy();
    }
  }

  /** The scratch directory. */
  get dir(): string {
    return this.swarm.dir;
  }

  /** The state folder of the peer on `host`. */
  stateDir(host: string): string {
    return this.swarm.stateDir(host);
  }

  /** Starts (or restarts) a peer on `host` with its state folder; waits for its shell. */
  peer(host: string): Promise<PeerShell> {
    const addr = `${this.bed.addr(host)}:${PEER_PORT}`;
    return this.swarm.start(host, { addr, prefix: inNetns(this.bed.ns(host)) });
  }
}

/** The percentage in a show_downloads line (NaN without one). */
export function percent(line: string): number {
  return Number(/ (\d+(?:\.\d+)?)%/.exec(line)?.[1] ?? NaN);
}
