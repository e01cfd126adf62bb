/**
 * The logged-in peers of one load process: each on its own TLS connection
 * to the primary, keeping its session alive with the real peer's keepalive
 * loop ({@linkcode TrackerWatch}), and, for the downloaders, reporting
 * pieces and looking the file up with the commands and arguments of
 * peer/download/tracker_answers.ts.
 */
import { encodeBase64 } from "../shared/base64.ts";
import { describeError } from "../shared/errors.ts";
import { newKeyPair } from "../shared/tls/keys.ts";
import type { TrackerResult } from "../peer/tracker_client/tracker_client.ts";
import { TrackerWatch } from "../peer/tracker_client/tracker_watch.ts";
import { peerAddr, type ScalePlan, userName } from "./_scale_plan.ts";
import { type LatencySummary, summarize } from "./_stats.ts";
import { WireClient } from "./_wire_client.ts";

/** How long one peer may take to connect and log in (the tracker hashes one password at a time). */
const LOGIN_TIMEOUT_MS = 120_000;

/** What the peers of one process did since the last mark. */
export interface PeerStats {
  /** Peers logged in, and those whose login failed. */
  loggedIn: number;
  failed: number;
  firstError: string | null;
  /** Connections closed under a logged-in peer. */
  closed: number;
  /** Logged-in peers with no watch answer for three keepalive intervals. */
  stale: number;
  /** Answers per command since the mark: ok and refused. */
  answers: Record<string, { ok: number; fail: number }>;
  /** Latency of the downloaders' reports (replicated writes) since the mark. */
  reportLatency: LatencySummary;
  /** Seconds since the mark. */
  seconds: number;
}

interface Peer {
  i: number;
  wire: WireClient;
  keyId: string;
  watch: TrackerWatch | null;
  lastWatch: number;
  closed: boolean;
}

/** The peers of one load process. */
export class ScalePeers {
  readonly #plan: ScalePlan;
  readonly #ca: string;
  readonly #peers = new Map<number, Peer>();
  #failed = 0;
  #firstError: string | null = null;
  #answers: Record<string, { ok: number; fail: number }> = {};
  #reportMs: number[] = [];
  #markedAt = performance.now();
  #stopped = false;
  #loops: Promise<void>[] = [];

  constructor(plan: ScalePlan, ca: string) {
    this.#plan = plan;
    this.#ca = ca;
  }

  /** Peers logged in so far. */
  get loggedIn(): number {
    return this.#peers.size;
  }

  /**
   * Connects and logs in every peer of the plan, `loginConcurrency` at a
   * time, each starting its keepalive at once; `progress` hears the count.
   */
  async login(progress: (done: number) => void): Promise<void> {
    const { first, count, loginConcurrency } = this.#plan;
    let next = first;
    const lane = async () => {
      while (next < first + count && !this.#stopped) {
        const i = next++;
        try {
          await withTimeout(this.#loginOne(i), LOGIN_TIMEOUT_MS, `login of ${userName(i)}`);
        } catch (err) {
          this.#failed++;
          this.#firstError ??= describeError(err);
        }
        progress(this.#peers.size);
      }
    };
    await Promise.all(Array.from({ length: loginConcurrency }, lane));
  }

  async #loginOne(i: number): Promise<void> {
    const wire = await WireClient.connect(this.#plan.primary, { name: `p${i}`, ca: this.#ca });
    try {
      const keys = await newKeyPair();
      const spki = Uint8Array.from(atob(keys.spki), (c) => c.charCodeAt(0));
      const keyId = encodeBase64(new Uint8Array(await crypto.subtle.digest("SHA-256", spki)));
      const data = await wire.call("login", {
        user: userName(i),
        password: this.#plan.password,
        addr: peerAddr(i),
        pubkey: keys.spki,
      });
      if (typeof data.token !== "string") throw new Error("login answered without a token");
      wire.token = data.token;
      await wire.call("set_serving", { serving: true });
      const peer: Peer = {
        i,
        wire,
        keyId,
        watch: null,
        lastWatch: performance.now(),
        closed: false,
      };
      peer.watch = new TrackerWatch({
        client: this.#watchClient(peer),
        intervalMs: this.#plan.rates.keepaliveMs,
        revoked: () => {},
      });
      this.#peers.set(i, peer);
    } catch (err) {
      await wire.close().catch(() => {});
      throw err;
    }
  }

  /** What the keepalive loop sends through: the peer's connection, counted. */
  #watchClient(peer: Peer): ConstructorParameters<typeof TrackerWatch>[0]["client"] {
    return {
      get token() {
        return peer.wire.token;
      },
      request: async (cmd, args) => {
        try {
          const res = await this.#request(peer, cmd, args ?? {});
          if (res.ok) peer.lastWatch = performance.now();
          return res;
        } catch (err) {
          if (!this.#stopped) peer.closed = true;
          throw err;
        }
      },
    };
  }

  async #request(peer: Peer, cmd: string, args: Record<string, unknown>): Promise<TrackerResult> {
    const res = await peer.wire.request(cmd, args);
    const a = this.#answers[cmd] ??= { ok: 0, fail: 0 };
    if (res.ok) {
      a.ok++;
      return { ok: true, data: res.data };
    }
    a.fail++;
    this.#firstError ??= `${cmd}: ${res.error}`;
    return { ok: false, error: res.error, code: res.code };
  }

  /** Creates the plan's groups: the owner creates and shares, the downloaders join and are let in. */
  async setupGroups(): Promise<void> {
    const { groups, file } = this.#plan;
    await Promise.all(groups.map(async (g) => {
      const owner = this.#need(g.owner);
      await owner.wire.call("create_group", { group: g.group });
      await owner.wire.call("share_file", { group: g.group, ...file });
      for (const d of g.downloaders) {
        await this.#need(d).wire.call("join_group", { group: g.group });
        await owner.wire.call("accept_request", { group: g.group, user: userName(d) });
      }
    }));
  }

  #need(i: number): Peer {
    const p = this.#peers.get(i);
    if (!p) throw new Error(`peer ${userName(i)} is not logged in`);
    return p;
  }

  /** Starts every downloader's report and lookup loops (they run until {@linkcode close}). */
  startDownloads(): void {
    const { rates, file } = this.#plan;
    const n = Math.ceil(file.size / file.pieceSize);
    for (const g of this.#plan.groups) {
      for (const d of g.downloaders) {
        const peer = this.#peers.get(d);
        if (!peer) continue;
        const f = { group: g.group, name: file.name };
        let piece = Math.floor(Math.random() * n);
        const report = async () => {
          const pieces = Array.from({ length: rates.piecesPerReport }, () => piece++ % n);
          const t0 = performance.now();
          const res = await this.#request(peer, "report_pieces", { ...f, pieces });
          if (res.ok) this.#reportMs.push(performance.now() - t0);
        };
        const lookup = () => this.#request(peer, "lookup_file", { ...f, id: peer.keyId });
        this.#loops.push(this.#every(rates.reportMs, report), this.#every(rates.lookupMs, lookup));
      }
    }
  }

  /** Runs `fn` every `ms` (from a random phase) until stopped; one call at a time. */
  async #every(ms: number, fn: () => Promise<unknown>): Promise<void> {
    let next = performance.now() + Math.random() * ms;
    while (!this.#stopped) {
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (this.#stopped) return;
      next = Math.max(next + ms, performance.now());
      try {
        await fn();
      } catch (err) {
        if (this.#stopped) return;
        this.#firstError ??= describeError(err);
        await new Promise((r) => setTimeout(r, ms));
      }
    }
  }

  /** Starts a new counting window. */
  mark(): void {
    this.#answers = {};
    this.#reportMs = [];
    this.#markedAt = performance.now();
  }

  /** What happened since the mark, and how the peers stand now. */
  stats(): PeerStats {
    const now = performance.now();
    const staleAfter = 3 * this.#plan.rates.keepaliveMs;
    let stale = 0;
    let closed = 0;
    for (const p of this.#peers.values()) {
      if (now - p.lastWatch > staleAfter) stale++;
      if (p.closed) closed++;
    }
    return {
      loggedIn: this.#peers.size,
      failed: this.#failed,
      firstError: this.#firstError,
      closed,
      stale,
      answers: this.#answers,
      reportLatency: summarize(this.#reportMs),
      seconds: (now - this.#markedAt) / 1000,
    };
  }

  /** Stops every loop and closes every connection. */
  async close(): Promise<void> {
    this.#stopped = true;
    for (const p of this.#peers.values()) p.watch?.stop();
    await Promise.all([...this.#peers.values()].map((p) => p.wire.close().catch(() => {})));
    await Promise.all(this.#loops);
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
