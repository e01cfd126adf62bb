/**
 * Hosts made of Linux network namespaces on a bridge, for tests that need a
 * real link to cut or shape. Every address (10.x) lives only inside the
 * test's own namespaces, the bridge too; nothing touches the host's network.
 *
 *   <p><s>-<host> (10.a.b.<k>) ── veth ──┐
 *   <p><s>-<host> (10.a.b.<k>) ── veth ──┤ bridge br0 in <p><s>-hub
 *   ...                                   ┘
 *
 * `cut(host)` sets the host's bridge-side veth end down: its packets are
 * dropped silently (no reset, no refusal), like a pulled cable. `shape(host)`
 * limits the host's link with `tc` (rate with `tbf`, delay and loss with
 * `netem`) on both veth ends, so both directions are shaped.
 *
 * Without the rights to make namespaces, {@linkcode Testbed.create} returns a
 * "skipped: ..." reason and the dependent test prints it and passes. A process
 * runs on a host behind {@linkcode inNetns} (see tests/harness/process.ts).
 */

/** An `ip` or `tc` command could not run or failed. */
export class NetnsError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NetnsError";
  }
}

/** Runs a command; throws {@linkcode NetnsError} with its stderr when it fails. */
export async function run(cmd: string, ...args: string[]): Promise<void> {
  let out;
  try {
    out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
  } catch (err) {
    throw new NetnsError(`Cannot run ${cmd} (apt-get install -y iproute2): ${err}`, {
      cause: err,
    });
  }
  if (!out.success) {
    const why = new TextDecoder().decode(out.stderr).trim();
    throw new NetnsError(`${cmd} ${args.join(" ")} failed: ${why}`);
  }
}

/** How a host's link is shaped (each direction). */
export interface Shape {
  /** Rate, e.g. "20mbit". */
  rate?: string;
  /** One-way delay, e.g. "10ms". */
  delay?: string;
  /** Loss, e.g. "0.1%". */
  loss?: string;
}

/** Namespaces on a bridge, one per named host. */
export class Testbed {
  readonly hub: string;
  /** The first three octets of the testbed's private /24, e.g. "10.123.45". */
  readonly net: string;
  readonly #prefix: string;
  readonly #hosts = new Map<string, number>();
  readonly #made: string[] = [];

  private constructor(prefix: string, net: string) {
    this.#prefix = prefix;
    this.hub = `${prefix}-hub`;
    this.net = net;
  }

  /** The namespace of `host`. */
  ns(host: string): string {
    return `${this.#prefix}-${host}`;
  }

  /** The address of `host`. */
  addr(host: string): string {
    return `${this.net}.${this.#index(host)}`;
  }

  #index(host: string): number {
    const k = this.#hosts.get(host);
    if (k === undefined) throw new NetnsError(`No host ${host} in the testbed`);
    return k;
  }

  /**
   * Creates one namespace per host (addresses .1, .2, ... in order) linked
   * by a bridge; returns a "skipped: ..." reason instead when this machine
   * does not allow it (then everything made is removed).
   */
  static async create(tag: string, hosts: string[]): Promise<Testbed | string> {
    const bytes = crypto.getRandomValues(new Uint8Array(3));
    const suffix = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    const bed = new Testbed(
      `${tag.slice(0, 4)}${suffix}`,
      `10.${100 + bytes[0]! % 150}.${bytes[1]}`,
    );
    try {
      for (const ns of [bed.hub, ...hosts.map((h) => bed.ns(h))]) {
        await run("ip", "netns", "add", ns);
        bed.#made.push(ns);
        await run("ip", "-n", ns, "link", "set", "lo", "up");
      }
    } catch (err) {
      await bed.destroy();
      return `skipped: cannot create network namespaces (${(err as Error).message})`;
    }
    try {
      // Links are shaped with tc: without it (iproute2 not installed) the tests skip.
      await run("tc", "-n", bed.hub, "qdisc", "show", "dev", "lo");
    } catch (err) {
      await bed.destroy();
      return `skipped: cannot run tc (${(err as Error).message})`;
    }
    try {
      await run("ip", "-n", bed.hub, "link", "add", "br0", "type", "bridge", "stp_state", "0");
      await run("ip", "-n", bed.hub, "link", "set", "br0", "up");
      for (const [i, host] of hosts.entries()) {
        bed.#hosts.set(host, i + 1);
        const leg = `v${i + 1}`;
        // Both ends are created inside namespaces: no device ever appears on the host.
        const veth = ["type", "veth", "peer", "name", "eth0", "netns", bed.ns(host)];
        await run("ip", "-n", bed.hub, "link", "add", leg, ...veth);
        await run("ip", "-n", bed.hub, "link", "set", leg, "master", "br0");
        await run("ip", "-n", bed.hub, "link", "set", leg, "up");
        await run("ip", "-n", bed.ns(host), "addr", "add", `${bed.addr(host)}/24`, "dev", "eth0");
        await run("ip", "-n", bed.ns(host), "link", "set", "eth0", "up");
      }
    } catch (err) {
      await bed.destroy();
      return `skipped: cannot create a bridge and veth pairs (${(err as Error).message})`;
    }
    return bed;
  }

  #leg(host: string): string {
    return `v${this.#index(host)}`;
  }

  /** Drops every packet to and from `host` (its bridge port goes down). */
  async cut(host: string): Promise<void> {
    await run("ip", "-n", this.hub, "link", "set", this.#leg(host), "down");
  }

  /** Undoes {@linkcode cut}. */
  async heal(host: string): Promise<void> {
    await run("ip", "-n", this.hub, "link", "set", this.#leg(host), "up");
  }

  /**
   * Shapes `host`'s link in both directions (replacing an earlier shape):
   * rate with `tbf`, delay and loss with `netem` above it. A kernel without
   * netem (sch_netem) makes delay and loss fail with a {@linkcode NetnsError}.
   */
  async shape(host: string, shape: Shape): Promise<void> {
    for (const [ns, dev] of [[this.ns(host), "eth0"], [this.hub, this.#leg(host)]] as const) {
      const qdisc = (...args: string[]) => run("tc", "-n", ns, "qdisc", ...args);
      await qdisc("del", "dev", dev, "root").catch(() => {});
      let parent = ["root"];
      if (shape.delay || shape.loss) {
        const loss = shape.loss ? ["loss", shape.loss] : [];
        const netem = ["netem", "delay", shape.delay ?? "0ms", ...loss];
        await qdisc("add", "dev", dev, "root", "handle", "1:", ...netem);
        parent = ["parent", "1:1"];
      }
      if (shape.rate) {
        const tbf = ["tbf", "rate", shape.rate, "burst", "32kb", "latency", "100ms"];
        await qdisc("add", "dev", dev, ...parent, "handle", "10:", ...tbf);
      }
    }
  }

  /** Removes every namespace made (their veths and the bridge go with them). */
  async destroy(): Promise<void> {
    for (const ns of this.#made.splice(0).reverse()) {
      await run("ip", "netns", "del", ns).catch((err) => console.error(`cleanup: ${err.message}`));
    }
  }
}

/** The command prefix that runs a process inside namespace `ns`. */
export function inNetns(ns: string): string[] {
  return ["ip", "netns", "exec", ns];
}
