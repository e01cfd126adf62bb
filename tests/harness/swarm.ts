/**
 * A tracker pair and peer shells whose users all belong to one group
 * ({@linkcode GROUP}): the first member creates it and accepts the others.
 * Every process and directory is removed afterwards.
 */
import { describeError } from "../../shared/errors.ts";
import { PeerShell, type ShellOptions } from "./shell.ts";
import { type PairOptions, TrackerPair } from "./tracker_pair.ts";

/** The group every member of a {@linkcode Swarm} belongs to. */
export const GROUP = "g1";

/** The password of user `user` in a swarm. */
export function password(user: string): string {
  return `pw-${user}`;
}

/**
 * Creates `user` on `sh` and logs in; with no `owner` the user creates
 * {@linkcode GROUP}, else asks to join it and `owner` accepts.
 */
export async function member(sh: PeerShell, user: string, owner: PeerShell | null): Promise<void> {
  await sh.ok(`create_user ${user} ${password(user)}`);
  await sh.ok(`login ${user} ${password(user)}`);
  if (!owner) {
    await sh.ok(`create_group ${GROUP}`);
  } else {
    await sh.ok(`join_group ${GROUP}`);
    await owner.ok(`accept_request ${GROUP} ${user}`);
  }
}

/** Options for {@linkcode Swarm.start}. */
export interface SwarmOptions {
  /** How the tracker pair starts. */
  pair?: PairOptions;
  /** The scratch directory's name prefix (default `shoal-files-`). */
  dirPrefix?: string;
}

/** A tracker pair and the members of {@linkcode GROUP}, with a scratch directory. */
export class Swarm {
  readonly pair: TrackerPair;
  readonly dir: string;
  readonly peers: PeerShell[] = [];
  #owner: PeerShell | null = null;

  private constructor(pair: TrackerPair, dir: string) {
    this.pair = pair;
    this.dir = dir;
  }

  /** Starts a tracker pair and makes a scratch directory for files. */
  static async start(options: SwarmOptions = {}): Promise<Swarm> {
    const pair = await TrackerPair.start(options.pair);
    const dir = await Deno.makeTempDir({ prefix: options.dirPrefix ?? "shoal-files-" });
    return new Swarm(pair, dir);
  }

  /** Runs `fn` with a fresh swarm; everything is killed and removed afterwards. */
  static async run(fn: (s: Swarm) => Promise<void>, options: SwarmOptions = {}): Promise<void> {
    const s = await Swarm.start(options);
    try {
      await fn(s);
    } catch (err) {
      throw new Error(`${describeError(err)}\n${s.describe()}`, { cause: err });
    } finally {
      await s.close();
    }
  }

  /** The state directory of the peer labelled `label`. */
  stateDir(label: string): string {
    return `${this.dir}/state-${label}`;
  }

  /** A fresh directory under the scratch directory. */
  async mkdir(name: string): Promise<string> {
    const d = `${this.dir}/${name}`;
    await Deno.mkdir(d, { recursive: true });
    return d;
  }

  /** Starts a peer for user `label`, creates and logs in the user, and makes them a member. */
  async member(label: string, options: ShellOptions = {}): Promise<PeerShell> {
    const p = await this.start(label, options);
    await member(p, label, this.#owner);
    this.#owner ??= p;
    return p;
  }

  /** Starts (or restarts) a peer process without logging in. */
  async start(label: string, options: ShellOptions = {}): Promise<PeerShell> {
    const p = await PeerShell.start(this.pair.infoPath, {
      label,
      stateDir: this.stateDir(label),
      ...options,
    });
    this.peers.push(p);
    return p;
  }

  /** Every process's output, for failure messages. */
  describe(): string {
    return [...this.peers.map((p) => p.describe()), this.pair.logs()].join("\n");
  }

  /** Kills every peer and tracker and removes every directory. */
  async close(): Promise<void> {
    for (const p of this.peers) await p.kill().catch(() => {});
    await this.pair.close();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}
