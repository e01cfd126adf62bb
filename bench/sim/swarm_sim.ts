/**
 * A deterministic discrete-event simulator of a shoal swarm: every
 * downloader is the real {@linkcode DownloadSession} (the same code the peer
 * runs), driven by a model of the network and of the trackers, in simulated
 * time with seeded randomness. No sockets, workers or clocks.
 *
 * The network: each peer has an uplink and a downlink rate and the link a
 * one-way latency. A piece leaves a server's uplink one at a time in the
 * order requested (store and forward at piece granularity), then crosses the
 * downloader's downlink one at a time; so a link's throughput is its rate and
 * a transfer takes the slower of the two.
 *
 * The trackers: a downloader's `report` updates what the trackers know it
 * has; a `lookup` answers, after a round trip, the online peers the trackers
 * list as sources of the file with what they have (as tracker/state's
 * lookup_file does), or a random `maxLookupPeers` of them.
 */
import { encodeBase64 } from "../../shared/base64.ts";
import { emptyBitfield, hasBit, setBit } from "../../shared/bitfield.ts";
import { DownloadSession } from "../../peer/download/session.ts";
import type { SessionAction, SessionEvent } from "../../peer/download/session_events.ts";
import type { LookupResult } from "../../peer/download/tracker_answers.ts";
import { UploadSlots } from "../../peer/serve/upload_slots.ts";
import { prng } from "../../tests/_prng.ts";

/** One peer of a simulated swarm. */
export interface SimPeer {
  /** Bits per second. */
  up: number;
  down: number;
  /** Has the whole file from the start. */
  seeder?: boolean;
  /** When it starts its download (or comes online, for a seeder); ms. Default 0. */
  joinAt?: number;
  /** When it goes offline without a word; ms. Default never. */
  leaveAt?: number;
}

/** What a simulation runs. */
export interface SimOptions {
  pieces: number;
  pieceSize: number;
  peers: SimPeer[];
  /** One-way latency of every path, ms. */
  latencyMs: number;
  seed: number;
  /** A lookup lists at most this many sources (default: all, as the trackers do today). */
  maxLookupPeers?: number;
  /**
   * Downloaders each peer serves at once (peer/serve/upload_slots.ts); default
   * UPLOAD_SLOTS, as the piece server; Infinity: no slots (every asker served).
   */
  uploadSlots?: number;
  /** Simulated time at which the run stops, ms. */
  untilMs: number;
  /** Called at every simulated second with the downloaders done so far (for a progress line). */
  progress?: (simMs: number, done: number) => void;
}

/** What a simulation measured. */
export interface SimResult {
  /** Per peer: when its download completed (ms), or null (a seeder, or not done). */
  done: (number | null)[];
  /** Requests the trackers answered. */
  lookups: number;
  reports: number;
  /** Bytes each peer's uplink sent. */
  sent: number[];
  /** Per peer at the end: pieces it has, and its session's status ("seed" for a seeder). */
  pieces: number[];
  status: string[];
  /** Simulated time at the end, ms. */
  endedAt: number;
  /** Events processed. */
  events: number;
  /** Requests refused as choked. */
  choked: number;
}

interface Node {
  spec: SimPeer;
  online: boolean;
  have: Uint8Array;
  count: number;
  /** What the trackers know it has (base64 cached), -1 count: not a source. */
  reported: Uint8Array;
  reportedCount: number;
  reportedText: string | null;
  session: DownloadSession | null;
  upFree: number;
  downFree: number;
  /** Open connections of this downloader: conn id → server index. */
  conns: Map<number, number>;
  /** Its upload slots, as a server (null: unlimited). */
  slots: UploadSlots | null;

  /** When a tick is scheduled (Infinity: none). */
  tickAt: number;
  done: number | null;
}

type Task = () => void;

/** A binary heap of timed tasks, earliest first, ties in the order scheduled. */
class Agenda {
  #t: number[] = [];
  #s: number[] = [];
  #f: Task[] = [];
  #seq = 0;

  get size(): number {
    return this.#t.length;
  }

  push(at: number, f: Task): void {
    const t = this.#t, s = this.#s, fs = this.#f;
    let i = t.length;
    t.push(at);
    s.push(this.#seq++);
    fs.push(f);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (t[p]! < at || (t[p] === at && s[p]! < s[i]!)) break;
      this.#swap(i, p);
      i = p;
    }
  }

  /** The earliest task and its time. */
  pop(): [number, Task] {
    const t = this.#t, s = this.#s, fs = this.#f;
    const top: [number, Task] = [t[0]!, fs[0]!];
    const last = t.length - 1;
    this.#swap(0, last);
    t.pop();
    s.pop();
    fs.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      const less = (a: number, b: number) => t[a]! < t[b]! || (t[a] === t[b] && s[a]! < s[b]!);
      if (l < t.length && less(l, m)) m = l;
      if (r < t.length && less(r, m)) m = r;
      if (m === i) break;
      this.#swap(i, m);
      i = m;
    }
    return top;
  }

  #swap(a: number, b: number): void {
    const t = this.#t, s = this.#s, f = this.#f;
    [t[a], t[b]] = [t[b]!, t[a]!];
    [s[a], s[b]] = [s[b]!, s[a]!];
    [f[a], f[b]] = [f[b]!, f[a]!];
  }
}

/** The address a simulated peer has (the session parses it as an endpoint). */
function addrOf(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:6001`;
}

function indexOf(host: string): number {
  const [, b, c, d] = host.split(".").map(Number);
  return (b! << 16) | (c! << 8) | d!;
}

/** Runs a swarm to `untilMs` or until every downloader is done. */
export function simulate(o: SimOptions): SimResult {
  const random = prng(o.seed);
  const agenda = new Agenda();
  const size = o.pieces * o.pieceSize;
  const lat = o.latencyMs;
  let now = 0;
  let lookups = 0;
  let reports = 0;
  let events = 0;
  let choked = 0;
  let left = 0;
  const sent = o.peers.map(() => 0);
  const nodes: Node[] = o.peers.map((spec) => {
    const have = emptyBitfield(o.pieces);
    if (spec.seeder) { for (let p = 0; p < o.pieces; p++) setBit(have, p); }
    const count = spec.seeder ? o.pieces : 0;
    return {
      spec,
      online: false,
      have,
      count,
      reported: spec.seeder ? have.slice() : emptyBitfield(o.pieces),
      reportedCount: count,
      reportedText: null,
      session: null,
      upFree: 0,
      downFree: 0,
      conns: new Map(),
      slots: o.uploadSlots === Infinity ? null : new UploadSlots(o.uploadSlots),

      tickAt: Infinity,
      done: null,
    };
  });
  // The peers the trackers list as sources (online, with something reported), kept as the
  // swarm changes so that a lookup costs O(answer), not O(swarm): 10,000 peers look up
  // about once a second each.
  const listed: number[] = [];
  const listedAt = new Int32Array(nodes.length).fill(-1);
  const list = (j: number) => {
    if (listedAt[j]! >= 0) return;
    listedAt[j] = listed.length;
    listed.push(j);
  };
  const unlist = (j: number) => {
    const at = listedAt[j]!;
    if (at < 0) return;
    const last = listed.pop()!;
    if (last !== j) {
      listed[at] = last;
      listedAt[last] = at;
    }
    listedAt[j] = -1;
  };
  const lookup = (me: number): LookupResult => {
    lookups++;
    const cap = o.maxLookupPeers ?? Infinity;
    const others = listed.length - (listedAt[me]! >= 0 ? 1 : 0);
    let sources: number[];
    if (others <= cap) {
      sources = listed.filter((j) => j !== me);
    } else {
      // A random `cap` of them, drawn without replacement.
      const picked = new Set<number>();
      while (picked.size < cap) {
        const j = listed[Math.floor(random() * listed.length)]!;
        if (j !== me) picked.add(j);
      }
      sources = [...picked];
    }
    const peers = sources.map((j) => {
      const n = nodes[j]!;
      const have = n.reportedCount === o.pieces
        ? "all"
        : (n.reportedText ??= encodeBase64(n.reported));
      return { user: `u${j}`, addr: addrOf(j), have };
    });
    return { peers, grant: {} };
  };
  const feed = (i: number, e: SessionEvent): void => {
    const n = nodes[i]!;
    const s = n.session;
    if (!s || !n.online) return;
    events++;
    for (const a of s.handle(e)) act(i, a);
    const at = s.wakeAt;
    if (Number.isFinite(at) && at < n.tickAt) {
      n.tickAt = at;
      agenda.push(Math.max(at, now), () => {
        if (n.tickAt !== at) return;
        n.tickAt = Infinity;
        feed(i, { type: "tick", now });
      });
    }
  };
  const act = (i: number, a: SessionAction): void => {
    const n = nodes[i]!;
    switch (a.type) {
      case "connect": {
        const j = indexOf(a.addr.hostname);
        n.conns.set(a.conn, j);
        agenda.push(now + 2 * lat, () => {
          if (!n.conns.has(a.conn)) return;
          const m = nodes[j]!;
          if (!m.online) {
            n.conns.delete(a.conn);
            return feed(i, { type: "closed", now, conn: a.conn, error: "no answer" });
          }
          const have = m.count === o.pieces ? "all" : encodeBase64(m.have);
          feed(i, { type: "opened", now, conn: a.conn, have });
        });
        return;
      }
      case "request": {
        const j = n.conns.get(a.conn);
        if (j === undefined) return;
        agenda.push(now + lat, () => serve(j, i, a.conn, a.piece));
        return;
      }
      case "close": {
        const j = n.conns.get(a.conn);
        n.conns.delete(a.conn);
        // Its last connection to j is gone: so is its upload slot there.
        if (j !== undefined && ![...n.conns.values()].includes(j)) nodes[j]!.slots?.release(`${i}`);
        // As the driver does: the closed event follows.
        if (j !== undefined) {
          agenda.push(now, () => feed(i, { type: "closed", now, conn: a.conn, error: "closed" }));
        }
        return;
      }
      case "report": {
        reports++;
        const pieces = a.pieces;
        agenda.push(now + lat, () => {
          for (const p of pieces) {
            if (!hasBit(n.reported, p)) {
              setBit(n.reported, p);
              n.reportedCount++;
            }
          }
          n.reportedText = null;
          if (n.online && n.reportedCount > 0) list(i);
        });
        return;
      }
      case "lookup":
        agenda.push(now + lat, () => {
          const answer = lookup(i);
          agenda.push(now + lat, () => feed(i, { type: "sources", now, lookup: answer }));
        });
        return;
      case "verifyWhole":
        agenda.push(now, () => feed(i, { type: "wholeHashed", now, sha1: "00".repeat(20) }));
        return;
      case "rename":
        agenda.push(now, () => feed(i, { type: "renamed", now }));
        return;
      case "complete":
        n.done = now;
        left--;
        return;
      case "fail":
        n.done = null;
        left--;
        return;
      default:
        return; // record, hashPrefix, cancelHash: nothing to model.
    }
  };
  /** Server j sends `piece` to downloader i on connection conn, after what its uplink already carries. */
  const serve = (j: number, i: number, conn: number, piece: number): void => {
    const m = nodes[j]!, n = nodes[i]!;
    if (!m.online || !n.conns.has(conn)) return;
    if (!hasBit(m.have, piece)) {
      agenda.push(now + lat, () => feed(i, { type: "refused", now, conn, piece }));
      return;
    }
    if (m.slots && !m.slots.admit(`${i}`, now)) {
      choked++;
      agenda.push(now + lat, () => feed(i, { type: "refused", now, conn, piece, choked: true }));
      return;
    }
    const bytes = Math.min(o.pieceSize, size - piece * o.pieceSize);
    const upStart = Math.max(now, m.upFree);
    m.upFree = upStart + bytes * 8 / m.spec.up * 1000;
    const downStart = Math.max(m.upFree, n.downFree);
    n.downFree = downStart + bytes * 8 / n.spec.down * 1000;
    sent[j]! += bytes;
    if (m.slots) {
      const slots = m.slots;
      agenda.push(m.upFree, () => slots.served(`${i}`, now));
    }
    agenda.push(n.downFree + lat, () => {
      if (!m.online || !n.conns.has(conn)) return;
      if (!hasBit(n.have, piece)) {
        setBit(n.have, piece);
        n.count++;
      }
      feed(i, { type: "verified", now, conn, piece, bytes });
    });
  };
  for (const [i, spec] of o.peers.entries()) {
    const n = nodes[i]!;
    if (!spec.seeder) left++;
    agenda.push(spec.joinAt ?? 0, () => {
      n.online = true;
      if (n.reportedCount > 0) list(i);
      if (spec.seeder) return;
      n.session = new DownloadSession({
        name: "f.bin",
        size,
        pieceSize: o.pieceSize,
        sha1: "00".repeat(20),
        have: n.have.slice(),
        partPath: "/sim/f.bin.part",
      }, { random });
      feed(i, { type: "start", now, lookup: lookup(i) });
    });
    if (spec.leaveAt !== undefined) {
      agenda.push(spec.leaveAt, () => {
        if (n.session && n.done === null) left--;
        n.online = false;
        n.reportedCount = 0;
        unlist(i);
      });
    }
  }
  const downloaders = left;
  let nextSecond = 1000;
  while (agenda.size > 0 && left > 0) {
    const [at, task] = agenda.pop();
    if (at > o.untilMs) break;
    now = at;
    if (o.progress && now >= nextSecond) {
      nextSecond = Math.floor(now / 1000) * 1000 + 1000;
      o.progress(now, downloaders - left);
    }
    task();
  }
  return {
    done: nodes.map((n) => n.done),
    lookups,
    reports,
    sent,
    pieces: nodes.map((n) => n.count),
    status: nodes.map((n) => n.session?.status ?? "seed"),
    endedAt: now,
    events,
    choked,
  };
}
