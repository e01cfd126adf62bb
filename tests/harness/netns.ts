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
 * `netem`) on both veth ends, so both directions are shaped: the host's end
 * shapes what it sends (its uplink), the bridge's end what it receives (its
 * downlink), each with its own figures if asked.
 *
 * Namespaces are removed by {@linkcode Testbed.destroy}, at SIGINT or SIGTERM
 * of the process that made them, and, for a process that was killed outright,
 * by the next {@linkcode Testbed.create} on this machine: each testbed writes
 * its maker's pid under {@link REGISTRY}, and one whose maker is gone is swept.
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

/** Shapes for each direction of a host's link, when they differ. */
export interface LinkShape {
  /** What the host sends. */
  up?: Shape;
  /** What the host receives. */
  down?: Shape;
}

/** Where each live testbed notes its namespaces and its maker's pid. */
export const REGISTRY = "/tmp/shoal-netns";

/** Every testbed of this process, removed at SIGINT/SIGTERM. */
const live = new Set<Testbed>();
const SIGNALS = ["SIGINT", "SIGTERM"] as const;

async function onSignal(): Promise<void> {
  for (const bed of [...live]) await bed.destroy();
  Deno.exit(130);
}

/** Listens for the signals while a testbed lives (a listener left behind would trip test sanitizers). */
function track(bed: Testbed, on: boolean): void {
  const before = live.size;
  if (on) live.add(bed);
  else live.delete(bed);
  if (before === 0 && live.size === 1) {
    for (const s of SIGNALS) Deno.addSignalListener(s, onSignal);
  }
  if (before > 0 && live.size === 0) {
    for (const s of SIGNALS) Deno.removeSignalListener(s, onSignal);
  }
}

function alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** Removes the namespaces of testbeds whose maker no longer runs. */
async function sweepStale(): Promise<void> {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(REGISTRY)];
  } catch {
    return;
  }
  for (const e of entries) {
    const path = `${REGISTRY}/${e.name}`;
    const text = await Deno.readTextFile(path).catch(() => "");
    const [pidLine, ...names] = text.trim().split("\n");
    if (alive(Number(pidLine))) continue;
    for (const ns of names.reverse()) await run("ip", "netns", "del", ns).catch(() => {});
    await Deno.remove(path).catch(() => {});
  }
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
    await sweepStale();
    track(bed, true);
    try {
      for (const ns of [bed.hub, ...hosts.map((h) => bed.ns(h))]) {
        await run("ip", "netns", "add", ns);
        bed.#made.push(ns);
        await bed.#note();
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

  /** Writes this process's pid and the namespaces made so far to the registry. */
  async #note(): Promise<void> {
    await Deno.mkdir(REGISTRY, { recursive: true });
    await Deno.writeTextFile(`${REGISTRY}/${this.#prefix}`, [Deno.pid, ...this.#made].join("\n"));
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
   * Shapes `host`'s link (replacing an earlier shape): one {@linkcode Shape}
   * for both directions, or `{up, down}` for each (a direction left out is
   * not shaped). Rate with `tbf`, delay and loss with `netem` above it. A
   * kernel without netem (sch_netem) makes delay and loss fail with a
   * {@linkcode NetnsError}.
   */
  async shape(host: string, shape: Shape | LinkShape): Promise<void> {
    const both = "up" in shape || "down" in shape
      ? shape as LinkShape
      : { up: shape as Shape, down: shape as Shape };
    const ends = [
      [this.ns(host), "eth0", both.up],
      [this.hub, this.#leg(host), both.down],
    ] as const;
    for (const [ns, dev, one] of ends) {
      const qdisc = (...args: string[]) => run("tc", "-n", ns, "qdisc", ...args);
      await qdisc("del", "dev", dev, "root").catch(() => {});
      if (!one) continue;
      let parent = ["root"];
      if (one.delay || one.loss) {
        const loss = one.loss ? ["loss", one.loss] : [];
        const netem = ["netem", "delay", one.delay ?? "0ms", ...loss];
        await qdisc("add", "dev", dev, "root", "handle", "1:", ...netem);
        parent = ["parent", "1:1"];
      }
      if (one.rate) {
        const tbf = ["tbf", "rate", one.rate, "burst", burstFor(one.rate), "latency", "50ms"];
        await qdisc("add", "dev", dev, ...parent, "handle", "10:", ...tbf);
      }
    }
  }

  /** Bytes `host` has sent on its link so far (its eth0's counter, all protocols). */
  async txBytes(host: string): Promise<number> {
    return (await this.#counters(host)).tx;
  }

  /** Bytes `host` has received on its link so far (its eth0's counter, all protocols). */
  async rxBytes(host: string): Promise<number> {
    return (await this.#counters(host)).rx;
  }

  async #counters(host: string): Promise<{ tx: number; rx: number }> {
    const out = await new Deno.Command("ip", {
      args: ["-n", this.ns(host), "-s", "-j", "link", "show", "eth0"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) throw new NetnsError(`Cannot read ${host}'s link counters`);
    const [link] = JSON.parse(new TextDecoder().decode(out.stdout)) as {
      stats64?: { tx?: { bytes?: number }; rx?: { bytes?: number } };
    }[];
    return { tx: link?.stats64?.tx?.bytes ?? NaN, rx: link?.stats64?.rx?.bytes ?? NaN };
  }

  /** Removes every namespace made (their veths and the bridge go with them). */
  async destroy(): Promise<void> {
    track(this, false);
    for (const ns of this.#made.splice(0).reverse()) {
      await run("ip", "netns", "del", ns).catch((err) => console.error(`cleanup: ${err.message}`));
    }
    await Deno.remove(`${REGISTRY}/${this.#prefix}`).catch(() => {});
  }
}

/** Bits per second of a tc rate such as "200mbit" or "1gbit". */
export function rateBits(rate: string): number {
  const m = /^(\d+(?:\.\d+)?)(k|m|g)?bit$/i.exec(rate.trim());
  if (!m) throw new NetnsError(`Rate ${rate} is not <number>[k|m|g]bit`);
  const unit = { k: 1e3, m: 1e6, g: 1e9 }[(m[2] ?? "").toLowerCase() as "k" | "m" | "g"] ?? 1;
  return Number(m[1]) * unit;
}

/**
 * The tbf bucket for a rate: 4 ms of it, and at least 64 KiB, so that one
 * GSO segment (up to 64 KiB on a veth) always fits and the rate holds at 1 Gbit.
 */
export function burstFor(rate: string): string {
  const bytes = Math.max(64 * 1024, Math.ceil(rateBits(rate) / 8 * 0.004));
  return `${bytes}b`;
}

/** The command prefix that runs a process inside namespace `ns`. */
export function inNetns(ns: string): string[] {
  return ["ip", "netns", "exec", ns];
}
