/**
 * A fake peer built from shoal's own codec (`shared/frame.ts` through
 * `shared/conn.ts`): it speaks the raw tracker protocol as a group member
 * (over TLS, with an identity key sent at login and the certificate the
 * tracker issues for it), registers files with `share_file`, and serves
 * pieces over TLS on its own address with that certificate, either honestly
 * (optionally only some pieces) or with wrong bytes. Also a bare
 * piece-protocol client, to probe a real peer's piece server as some identity.
 */
import { PieceListener } from "../peer/serve/piece_listener.ts";
import type { FileMeta } from "../peer/store/peer_db.ts";
import { createHash } from "node:crypto";
import { encodeBase64 } from "../shared/base64.ts";
import { emptyBitfield, setBit } from "../shared/bitfield.ts";
import { FramedConn } from "../shared/conn.ts";
import { MAX_CONTROL_FRAME, MAX_DATA_FRAME, PIECE_SIZE } from "../shared/constants.ts";
import type { Frame, Message } from "../shared/frame.ts";
import { sha1Hex } from "../shared/piece_hash.ts";
import { BadMessage, errorNotice } from "../shared/protocol/bad_message.ts";
import { decodeClientMessage, requestMessage } from "../shared/protocol/client.ts";
import { decodeLoginAnswer, decodeWatchAnswer } from "../shared/protocol/client_answers.ts";
import { keyIdOf } from "../shared/tls/cert_info.ts";
import { newKeyPair, type TlsKeyPair } from "../shared/tls/keys.ts";
import {
  decodeTransferMessage,
  type PieceReject,
  type Welcome,
} from "../shared/protocol/transfer.ts";
import { type Endpoint, parseEndpoint } from "../shared/tracker_info.ts";
import type { RawTls } from "./_raw_client.ts";
import { freePort } from "./harness/ports.ts";

/** A tracker's answer. */
export type Reply =
  | { ok: true; data: Record<string, unknown> }
  | { ok: false; error: string; code?: string };

/** The metadata `share_file` registers: the peer's own type. */
export type { FileMeta };

/** Computes what a real peer would register for `data`. */
export async function fileMeta(group: string, name: string, data: Uint8Array): Promise<FileMeta> {
  const hex: string[] = [];
  for (let off = 0; off < data.length; off += PIECE_SIZE) {
    hex.push(await sha1Hex(data.slice(off, Math.min(data.length, off + PIECE_SIZE))));
  }
  const sha1 = createHash("sha1").update(data).digest("hex");
  return { group, name, size: data.length, pieceSize: PIECE_SIZE, pieces: hex.join(""), sha1 };
}

/** Where the trackers are and the CA that signed them: a TrackerPair, say. */
export interface TrackersAt {
  endpoints: [Endpoint, Endpoint];
  ca(): Promise<string>;
}

/**
 * A connection to a tracker speaking `{t:"req", id, cmd, args, token}`, with
 * its own identity key: `login` sends its public key and keeps the
 * certificate the tracker returns, and `lookup_file` names the key's id, as
 * a real peer does.
 */
export class RawTracker {
  /** The session token once logged in. */
  token: string | undefined;
  /** The CA certificate (PEM) the tracker was checked against. */
  readonly ca: string;
  /** This client's identity key pair. */
  readonly keys: TlsKeyPair;
  /** The id (`keyIdOf` its public key) that `lookup_file` names. */
  readonly keyId: string;
  /** The certificate the tracker issued at login (PEM), once logged in. */
  cert: string | undefined;
  /** The peer address the session logged in with. */
  addr: string | undefined;
  #fc: FramedConn;
  #seq = 0;
  #waiting = new Map<string, (r: Reply) => void>();
  #reading: Promise<void>;
  #closed = false;
  #watching: Promise<void> | null = null;

  private constructor(fc: FramedConn, ca: string, keys: TlsKeyPair, keyId: string) {
    this.#fc = fc;
    this.ca = ca;
    this.keys = keys;
    this.keyId = keyId;
    this.#reading = this.#read();
  }

  /** Connects to the tracker at `ep` (the primary), trusting the CA certificate `ca`. */
  static async connect(ep: Endpoint, ca: string): Promise<RawTracker> {
    const fc = await FramedConn.connect(ep, {
      maxFrame: MAX_CONTROL_FRAME,
      tls: { caCerts: [ca] },
    });
    const keys = await newKeyPair();
    return new RawTracker(fc, ca, keys, await keyIdOf(keys.spki));
  }

  /** What dialing a peer as this identity takes; throws before login. */
  tls(): Required<RawTls> {
    if (!this.cert) throw new Error("not logged in: no certificate yet");
    return { caCerts: [this.ca], cert: this.cert, key: this.keys.keyPem };
  }

  /**
   * Listens on the address it logged in with as a real piece server does:
   * mutual TLS, showing its certificate, admitting CA-signed clients only.
   */
  async listen(): Promise<PieceListener> {
    if (!this.cert || !this.addr) throw new Error("not logged in: no certificate yet");
    const listener = await PieceListener.listen({ ...parseEndpoint(this.addr), ca: this.ca });
    listener.setIdentity({ cert: this.cert, key: this.keys.keyPem });
    return listener;
  }

  async #read(): Promise<void> {
    let ended = "connection closed";
    try {
      for await (const f of this.#fc.frames()) {
        if (f.kind !== "json") continue;
        const m = decodeClientMessage(f.msg);
        if (m.t !== "res" || m.id === null) continue;
        const done = this.#waiting.get(m.id);
        this.#waiting.delete(m.id);
        const reply: Reply = m.ok
          ? { ok: true, data: m.data }
          : { ok: false, error: m.error, ...(m.code ? { code: m.code } : {}) };
        done?.(reply);
      }
    } catch (err) {
      // A tracker's malformed answer: the requests fail with it instead of hanging.
      if (!(err instanceof BadMessage)) throw err;
      ended = `malformed answer from the tracker: ${err.message}`;
      this.#fc.close();
    }
    for (const done of this.#waiting.values()) done({ ok: false, error: ended });
    this.#waiting.clear();
  }

  /**
   * Sends a command (with the token once logged in) and returns the answer. A
   * `lookup_file` without an `id` key names this client's identity.
   */
  request(cmd: string, args: Record<string, unknown> = {}): Promise<Reply> {
    const id = `fake-${crypto.randomUUID()}-${++this.#seq}`;
    if (cmd === "lookup_file" && !("id" in args)) args = { ...args, id: this.keyId };
    const msg = requestMessage(id, cmd, args, this.token);
    const reply = new Promise<Reply>((resolve) => this.#waiting.set(id, resolve));
    this.#fc.send(msg).catch(() => {});
    return reply;
  }

  /** Sends a command that must succeed; returns its data. */
  async call(cmd: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const r = await this.request(cmd, args);
    if (!r.ok) throw new Error(`${cmd} failed: ${r.error}`);
    return r.data;
  }

  /** Creates `user` and logs in with the peer address `addr` and this client's public key. */
  async signUp(user: string, password: string, addr: string): Promise<void> {
    await this.call("create_user", { user, password });
    await this.login(user, password, addr);
  }

  /** Logs in as `user` with the peer address `addr`; keeps the token and the certificate. */
  async login(user: string, password: string, addr: string): Promise<void> {
    const answer = decodeLoginAnswer(
      await this.call("login", { user, password, addr, pubkey: this.keys.spki }),
    );
    this.token = answer.token;
    this.cert = answer.cert;
    this.addr = addr;
    this.#watching ??= this.#keepAlive();
  }

  /** Keeps the session online as a real peer does: a `watch` held at the tracker, re-sent when answered. */
  async #keepAlive(): Promise<void> {
    let since = -1;
    while (!this.#closed) {
      const r = await this.request("watch", { since, interval: 1000 });
      if (r.ok) since = decodeWatchAnswer(r.data).index;
      else await new Promise((res) => setTimeout(res, 200));
    }
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#fc.close();
    await this.#reading;
    await this.#watching;
  }
}

/**
 * A member of `group` on the raw protocol: creates `user` (password
 * `pw-<user>`) at the first tracker of `at`, logs in from a free loopback
 * address, asks to join, and `owner` (a member's shell) accepts.
 */
export async function rawMember(
  at: TrackersAt,
  owner: { ok(line: string): Promise<string> },
  options: { user: string; group: string },
): Promise<RawTracker> {
  const { user, group } = options;
  const raw = await RawTracker.connect(at.endpoints[0], await at.ca());
  try {
    await raw.signUp(user, `pw-${user}`, `127.0.0.1:${freePort()}`);
    await raw.call("join_group", { group });
    await owner.ok(`accept_request ${group} ${user}`);
  } catch (err) {
    await raw.close();
    throw err;
  }
  return raw;
}

/** How a {@linkcode FakePeer} answers `get`. */
export interface ServeOptions {
  /** The file's true bytes. */
  data: Uint8Array;
  meta: FileMeta;
  /** "corrupt": every piece is sent with the right length and wrong bytes. */
  mode: "honest" | "corrupt";
  /** Pieces it claims and serves (default all); others are rejected. */
  have?: Set<number>;
  /**
   * When set, pieces are sent one at a time every `paceMs`, taking turns
   * between connections (a requester's connections then see their answers
   * interleaved); otherwise each connection is answered at once.
   */
  paceMs?: number;
  /** Pieces answered only once {@linkcode FakePeer.release} is called. */
  held?: Set<number>;
}

/** What a {@linkcode FakePeer} has seen and done. */
export interface FakeStats {
  connections: number;
  hellos: number;
  gets: number;
  /** Data frames sent with wrong bytes. */
  corrupt: number;
  /** Data frames sent with the true bytes. */
  honest: number;
  rejects: number;
}

/** A member of a group that registers files and serves them from this process. */
export class FakePeer {
  readonly tracker: RawTracker;
  readonly addr: string;
  readonly stats: FakeStats = {
    connections: 0,
    hellos: 0,
    gets: 0,
    corrupt: 0,
    honest: 0,
    rejects: 0,
  };
  #listener: PieceListener;
  #conns = new Set<FramedConn>();
  #files = new Map<string, ServeOptions>();
  #accepting: Promise<void>;
  /** Paced answers waiting, per connection, in the order the connections came. */
  #paced = new Map<FramedConn, (() => Promise<void>)[]>();
  #turn = 0;
  #pacer: ReturnType<typeof setInterval> | undefined;
  #held: (() => Promise<void>)[] | null = [];
  /** Every `get` received: which connection (numbered from 1 in order of arrival) and piece. */
  readonly requests: { conn: number; piece: number }[] = [];

  private constructor(tracker: RawTracker, listener: PieceListener) {
    this.tracker = tracker;
    this.addr = tracker.addr!;
    this.#listener = listener;
    this.#accepting = this.#accept();
  }

  /**
   * Creates `user` at the first tracker of `at` and logs in with a free
   * loopback address, then serves there over TLS with the certificate it got.
   */
  static async start(at: TrackersAt, user: string, password = `pw-${user}`): Promise<FakePeer> {
    const tracker = await RawTracker.connect(at.endpoints[0], await at.ca());
    const addr = `127.0.0.1:${freePort()}`;
    try {
      await tracker.signUp(user, password, addr);
      return new FakePeer(tracker, await tracker.listen());
    } catch (err) {
      await tracker.close();
      throw err;
    }
  }

  /** Registers `opts.meta` with the tracker and serves it as `opts` says. */
  async share(opts: ServeOptions): Promise<void> {
    this.#files.set(`${opts.meta.group}/${opts.meta.name}`, opts);
    await this.tracker.call("share_file", { ...opts.meta });
  }

  /** Answers the held requests, and from now on every request at once. */
  release(): void {
    const held = this.#held ?? [];
    this.#held = null;
    for (const answer of held) answer().catch(() => {});
  }

  /** Stops listening and drops every connection (the tracker session stays). */
  async stopServing(): Promise<void> {
    clearInterval(this.#pacer);
    try {
      this.#listener.close();
    } catch { /* closed */ }
    for (const c of this.#conns) c.close();
    await this.#accepting;
  }

  /** Stops serving and closes the tracker connection. */
  async close(): Promise<void> {
    await this.stopServing();
    await this.tracker.close();
  }

  async #accept(): Promise<void> {
    try {
      for await (const { conn } of this.#listener) {
        const fc = new FramedConn(conn, { maxFrame: MAX_CONTROL_FRAME });
        const id = ++this.stats.connections;
        this.#conns.add(fc);
        this.#serve(fc, id).catch(() => {}).finally(() => {
          fc.close();
          this.#conns.delete(fc);
        });
      }
    } catch { /* listener closed */ }
  }

  async #serve(fc: FramedConn, id: number): Promise<void> {
    let file: ServeOptions | undefined;
    for await (const f of fc.frames()) {
      if (f.kind !== "json") return;
      // A real downloader never sends a malformed message: it throws and the connection ends.
      const msg = decodeTransferMessage(f.msg);
      if (!file) {
        if (msg.t !== "hello") return;
        this.stats.hellos++;
        file = this.#files.get(`${msg.group}/${msg.name}`);
        if (!file) {
          await fc.send(errorNotice("no such file"));
          return;
        }
        const n = Math.ceil(file.meta.size / file.meta.pieceSize);
        let have = "all";
        if (file.have) {
          const bits = emptyBitfield(n);
          for (const p of file.have) setBit(bits, p);
          have = encodeBase64(bits);
        }
        const welcome: Welcome = { t: "welcome", have };
        await fc.send(welcome);
        continue;
      }
      if (msg.t !== "get") return;
      this.stats.gets++;
      const { piece: p, tag } = msg;
      this.requests.push({ conn: id, piece: p });
      if (file.have && !file.have.has(p)) {
        this.stats.rejects++;
        const reject: PieceReject = { t: "reject", tag, error: "piece not here" };
        await fc.send(reject);
        continue;
      }
      const off = p * file.meta.pieceSize;
      const bytes = file.data.slice(off, Math.min(file.meta.size, off + file.meta.pieceSize));
      const mode = file.mode;
      const answer = async () => {
        if (mode === "corrupt") {
          for (let i = 0; i < bytes.length; i++) bytes[i] = bytes[i]! ^ 0x5a;
          this.stats.corrupt++;
        } else this.stats.honest++;
        await fc.sendData(tag >>> 0, bytes);
      };
      if (this.#held && file.held?.has(p)) this.#held.push(answer);
      else if (file.paceMs === undefined) await answer();
      else this.#pace(fc, answer, file.paceMs);
    }
  }

  #pace(fc: FramedConn, answer: () => Promise<void>, ms: number): void {
    const q = this.#paced.get(fc) ?? [];
    q.push(answer);
    this.#paced.set(fc, q);
    this.#pacer ??= setInterval(() => {
      const conns = [...this.#paced.keys()].filter((c) => !c.isClosed);
      for (let k = 0; k < conns.length; k++) {
        const c = conns[(this.#turn + k) % conns.length]!;
        const next = this.#paced.get(c)!.shift();
        if (!next) continue;
        this.#turn = (this.#turn + k + 1) % conns.length;
        next().catch(() => {});
        return;
      }
    }, ms);
  }
}

/** A piece server to dial, and the identity to dial it as (see {@linkcode RawTracker.tls}). */
export interface PieceDial {
  /** The server's `ip:port`. */
  addr: string;
  tls: RawTls;
}

/** What {@linkcode PieceClient.next} returns. */
export type ClientEvent = Frame | { kind: "closed" } | { kind: "timeout" };

/** A bare client of a peer's piece server. */
export class PieceClient {
  readonly fc: FramedConn;
  #queue: Frame[] = [];
  #ended = false;
  #wake: (() => void) | null = null;
  #reading: Promise<void>;

  private constructor(fc: FramedConn) {
    this.fc = fc;
    this.#reading = this.#read();
  }

  /** Connects to the piece server `to.addr` over TLS as the identity `to.tls`. */
  static async connect(to: PieceDial): Promise<PieceClient> {
    return new PieceClient(
      await FramedConn.connect(parseEndpoint(to.addr), { maxFrame: MAX_DATA_FRAME, tls: to.tls }),
    );
  }

  async #read(): Promise<void> {
    try {
      for await (const f of this.fc.frames()) {
        // Data frames are views of the read buffer: keep a copy.
        this.#queue.push(f.kind === "data" ? { ...f, data: f.data.slice() } : f);
        this.#wake?.();
      }
    } finally {
      this.#ended = true;
      this.#wake?.();
    }
  }

  /** Sends a control message. */
  async send(msg: Message): Promise<void> {
    await this.fc.send(msg);
  }

  /** The next frame, or that the server closed the connection, or a timeout. */
  async next(timeoutMs = 5000): Promise<ClientEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = this.#queue.shift();
      if (f) return f;
      if (this.#ended) return { kind: "closed" };
      const left = deadline - Date.now();
      if (left <= 0) return { kind: "timeout" };
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(t);
          this.#wake = null;
          resolve();
        };
      });
    }
  }

  /** Every frame until the server closes the connection (or `timeoutMs` passes). */
  async rest(timeoutMs = 5000): Promise<{ frames: Frame[]; closed: boolean }> {
    const frames: Frame[] = [];
    for (;;) {
      const e = await this.next(timeoutMs);
      if (e.kind === "closed") return { frames, closed: true };
      if (e.kind === "timeout") return { frames, closed: false };
      frames.push(e);
    }
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    this.fc.close();
    await this.#reading;
  }
}
