/**
 * The peer's piece server on its `<ip>:<port>`, the serving side of the
 * transfer protocol (shared/protocol/transfer.ts), over mutual TLS
 * (piece_listener.ts). A requester first shows a grant signed by the trackers
 * for the file, issued to the identity of its TLS client certificate (the
 * user it names and its key); without a valid one it receives an error and
 * not one byte of the file.
 *
 * → {t:"hello", group, name, sha1, grant}   ← {t:"welcome", have} | {t:"error"} and close
 * → {t:"get", tag, piece}                    ← data frame (tag, bytes) | {t:"reject", tag, error}
 *
 * A malformed get is rejected like a missing piece, under whatever tag it
 * carried; any other message after the hello closes the connection. Pieces
 * go to as many downloaders at a time as there are upload slots
 * (upload_slots.ts, keyed by the identity of the client certificate); the
 * others' gets are rejected as `CHOKED` until a slot is theirs.
 */
import { encodeBase64 } from "../../shared/base64.ts";
import { FramedConn } from "../../shared/conn.ts";
import { MAX_CONTROL_FRAME } from "../../shared/constants.ts";
import { describeError } from "../../shared/errors.ts";
import type { Frame, Message } from "../../shared/frame.ts";
import { BadMessage, errorNotice } from "../../shared/protocol/bad_message.ts";
import {
  CHOKED,
  decodeTransferMessage,
  type PieceReject,
  type PieceRequest,
  type TransferMessage,
  type Welcome,
} from "../../shared/protocol/transfer.ts";
import { type Grant, type RevocationNews, verifyGrant } from "../../shared/grant.ts";
import { readFullySync } from "../../shared/read_fully.ts";
import { hasBit } from "../../shared/bitfield.ts";
import { log } from "../../shared/log.ts";
import type { ServedFile, ServedFiles } from "./served_files.ts";
import { RevokedGrants } from "./revoked_grants.ts";
import type { Accepted } from "./piece_listener.ts";
import type { PeerCert } from "./peer_cert.ts";
import { UploadSlots } from "./upload_slots.ts";

const logger = log("peer", "server");

/** Connections served at once. */
export const MAX_PEER_CONNECTIONS = 256;
/** Requests a connection may have waiting; more close the connection. */
export const MAX_QUEUED_REQUESTS = 64;
/** A requester must send its hello within this time. */
export const HELLO_TIMEOUT_MS = 5000;
/** Connections served at once to one remote address. */
export const MAX_CONNECTIONS_PER_HOST = 64;
/** How long a closing connection may take to deliver its error message. */
const ERROR_FLUSH_MS = 500;
/** The refusal of a get for a piece the file does not have, or of a malformed get. */
const NO_SUCH_PIECE = "no such piece";

/** A get as queued: decoded, or malformed and to be rejected under the tag it carried. */
type Queued = PieceRequest | { t: "malformed"; tag: unknown };

/** What a message after the hello asks for, or null when it is not a get. */
function queued(msg: Message): Queued | null {
  try {
    const m = decodeTransferMessage(msg);
    return m.t === "get" ? m : null;
  } catch (err) {
    if (!(err instanceof BadMessage)) throw err;
    // Echoed as it came, as ever: a requester matches a reject to its get by the tag.
    return err.type === "get" ? { t: "malformed", tag: msg.tag } : null;
  }
}

/**
 * Sends an error and closes, without waiting for a requester that does not
 * read: the error may be stuck behind a piece in the send queue.
 */
async function closeWithError(fc: FramedConn, error: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    fc.send(errorNotice(error)).catch(() => {}),
    new Promise<void>((r) => timer = setTimeout(r, ERROR_FLUSH_MS)),
  ]);
  clearTimeout(timer);
  fc.close();
}

/** Where the server's connections come from: a {@linkcode PieceListener} (tests may pass others). */
export type PieceConnections = AsyncIterable<Accepted> & { close(): void };

/** Options for {@linkcode PieceServer}. */
export interface PieceServerOptions {
  files: ServedFiles;
  /** The trackers' grant public key, once known (null: nothing is served). */
  grantKey: () => CryptoKey | null;
  /** Called before serving a shared file: false if it changed on disk (then refused). */
  checkUnchanged?: (file: ServedFile) => Promise<boolean>;
  /** Downloaders served at once (default UPLOAD_SLOTS; with several workers, each has its share). */
  uploadSlots?: number;
}

/** A piece server's counters. */
export interface ServerStats {
  bytesSent: number;
  piecesSent: number;
  connections: number;
}

/** Serves pieces to other peers. */
export class PieceServer {
  #listener: PieceConnections;
  #opts: PieceServerOptions;
  #conns = new Set<FramedConn>();
  #perHost = new Map<string, number>();
  /** The grant each admitted connection is served under, and the identity it was shown by. */
  #grants = new Map<FramedConn, { grant: Grant; peer: PeerCert }>();
  #revoked = new RevokedGrants();
  #slots: UploadSlots;
  /** Open admitted connections per downloader identity: its slot is released with the last. */
  #perIdentity = new Map<string, number>();
  #done: Promise<void>;
  #bytesSent = 0;
  #piecesSent = 0;

  constructor(listener: PieceConnections, opts: PieceServerOptions) {
    this.#listener = listener;
    this.#opts = opts;
    this.#slots = new UploadSlots(opts.uploadSlots);
    this.#done = this.#accept();
  }

  /** What this server has sent since it started, and its open connections (for /metrics). */
  get stats(): ServerStats {
    return {
      bytesSent: this.#bytesSent,
      piecesSent: this.#piecesSent,
      connections: this.#conns.size,
    };
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    try {
      this.#listener.close();
    } catch { /* closed */ }
    for (const c of this.#conns) c.close();
    await this.#done;
  }

  /**
   * Takes revocations from the trackers: connections served under a grant
   * they void are closed at once (no further byte), and such grants are
   * refused from now on.
   */
  revoke(news: RevocationNews, now = Date.now()): void {
    this.#revoked.add(news, now);
    this.#closeWhere((g, peer) => this.#voids(g, peer), "grant revoked");
  }

  /** Closes the connections that serve a file no longer offered here. */
  dropFile(group: string, name: string): void {
    this.#closeWhere((g) => g.group === group && g.name === name, `${name} is no longer shared`);
  }

  /** Closes every served connection (this peer's user logged out). */
  dropAll(): void {
    this.#closeWhere(() => true, "this peer is not logged in");
  }

  /** Whether a grant, or the identity that shows it (its user logged out since), is revoked. */
  #voids(grant: Grant, peer: PeerCert): boolean {
    return this.#revoked.voids(grant) || this.#revoked.voidsIdentity(peer);
  }

  #closeWhere(match: (g: Grant, peer: PeerCert) => boolean, why: string): void {
    for (const [fc, { grant: g, peer }] of this.#grants) {
      if (!match(g, peer)) continue;
      logger.info("Closing {remote} ({user}, {name}): {why}", {
        remote: fc.remote,
        user: g.user,
        name: g.name,
        why,
      });
      this.#grants.delete(fc);
      fc.close();
    }
  }

  async #accept(): Promise<void> {
    try {
      for await (const { conn, peer } of this.#listener) {
        const host = (conn.remoteAddr as Deno.NetAddr).hostname;
        if (
          this.#conns.size >= MAX_PEER_CONNECTIONS ||
          (this.#perHost.get(host) ?? 0) >= MAX_CONNECTIONS_PER_HOST
        ) {
          conn.close();
          continue;
        }
        this.#perHost.set(host, (this.#perHost.get(host) ?? 0) + 1);
        const fc = new FramedConn(conn, { maxFrame: MAX_CONTROL_FRAME, idleTimeoutMs: 60_000 });
        this.#conns.add(fc);
        this.#serve(fc, peer).catch((err) =>
          logger.warn("Peer {remote}: {error}", { remote: fc.remote, error: describeError(err) })
        ).finally(() => {
          fc.close();
          this.#conns.delete(fc);
          this.#grants.delete(fc);
          const left = (this.#perHost.get(host) ?? 1) - 1;
          if (left > 0) this.#perHost.set(host, left);
          else this.#perHost.delete(host);
        });
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.BadResource)) {
        logger.error("Piece server failed: {error}", { error: describeError(err) });
      }
    }
  }

  async #serve(fc: FramedConn, peer: PeerCert): Promise<void> {
    const frames = fc.frames();
    const helloTimer = setTimeout(() => fc.close(), HELLO_TIMEOUT_MS);
    const first = await frames.next().finally(() => clearTimeout(helloTimer));
    if (first.done || first.value.kind !== "json") return;
    const file = await this.#admit(fc, first.value.msg, peer);
    if (!file) return;
    const who = `${peer.name}\u0000${peer.keyId}`;
    this.#perIdentity.set(who, (this.#perIdentity.get(who) ?? 0) + 1);
    try {
      await this.#serveAdmitted(fc, frames, file, who);
    } finally {
      const left = (this.#perIdentity.get(who) ?? 1) - 1;
      if (left > 0) this.#perIdentity.set(who, left);
      else {
        this.#perIdentity.delete(who);
        this.#slots.release(who);
      }
    }
  }

  async #serveAdmitted(
    fc: FramedConn,
    frames: AsyncGenerator<Frame>,
    file: ServedFile,
    who: string,
  ): Promise<void> {
    using fh = await Deno.open(file.path, { read: true });
    // One buffer per connection, reused for every piece (each send completes before the next read).
    const buf = new Uint8Array(file.meta.pieceSize);
    const queue: Queued[] = [];
    let wake = null as (() => void) | null;
    let ended = false;
    // Reads requests while earlier ones are served, so the requester can pipeline.
    const reader = (async () => {
      for await (const f of frames) {
        const req = f.kind === "json" ? queued(f.msg) : null;
        if (!req) {
          await closeWithError(fc, "expected get");
          break;
        }
        if (queue.length >= MAX_QUEUED_REQUESTS) {
          await closeWithError(fc, "too many requests queued");
          break;
        }
        queue.push(req);
        wake?.();
      }
    })().finally(() => {
      ended = true;
      wake?.();
    });
    while (!fc.isClosed) {
      const req = queue.shift();
      if (!req) {
        if (ended) break;
        await new Promise<void>((r) => wake = r);
        wake = null;
        continue;
      }
      await this.#servePiece(fc, fh, file, req, buf, who);
    }
    fc.close();
    await reader;
  }

  async #admit(fc: FramedConn, first: Message, peer: PeerCert): Promise<ServedFile | null> {
    const refuse = async (error: string) => {
      logger.warn("Refused {remote}: {error}", { remote: fc.remote, error });
      await fc.send(errorNotice(error)).catch(() => {});
      return null;
    };
    let hello: TransferMessage;
    try {
      hello = decodeTransferMessage(first);
    } catch (err) {
      if (!(err instanceof BadMessage)) throw err;
      return await refuse(err.type === "hello" ? err.message : "expected hello");
    }
    if (hello.t !== "hello") return await refuse("expected hello");
    const { group, name, sha1 } = hello;
    const key = this.#opts.grantKey();
    if (!key) return await refuse("this peer is not logged in");
    const file = this.#opts.files.get(group, name);
    // The grant is checked before anything about the file is told.
    const grant = await verifyGrant(key, hello.grant, { group, name, sha1 }, Date.now());
    if (typeof grant === "string") return await refuse(grant);
    // A grant is good only in the hands it was given to: a copy shown by anyone else is refused.
    if (grant.user !== peer.name || grant.id !== peer.keyId) {
      return await refuse("grant was issued to another identity");
    }
    if (this.#voids(grant, peer)) return await refuse("grant revoked");
    if (!file || file.meta.sha1 !== sha1) return await refuse(`no file ${name} in ${group} here`);
    if (this.#opts.checkUnchanged && !(await this.#opts.checkUnchanged(file))) {
      return await refuse(`${name} changed on disk and is no longer shared`);
    }
    // Checked again after the awaits: a revocation or a withdrawal may have come meanwhile.
    if (this.#voids(grant, peer)) return await refuse("grant revoked");
    if (this.#opts.files.get(group, name) !== file) {
      return await refuse(`no file ${name} in ${group} here`);
    }
    this.#grants.set(fc, { grant, peer });
    const welcome: Welcome = { t: "welcome", have: file.have ? encodeBase64(file.have) : "all" };
    await fc.send(welcome);
    return file;
  }

  async #servePiece(
    fc: FramedConn,
    fh: Deno.FsFile,
    file: ServedFile,
    req: Queued,
    pieceBuf: Uint8Array,
    who: string,
  ) {
    const { size, pieceSize } = file.meta;
    const n = Math.ceil(size / pieceSize);
    if (req.t === "malformed" || req.piece < 0 || req.piece >= n) {
      await fc.send({ t: "reject", tag: req.tag, error: NO_SUCH_PIECE });
      return;
    }
    const { tag, piece: p } = req;
    if (file.have && !hasBit(file.have, p)) {
      const reject: PieceReject = { t: "reject", tag, error: "piece not here yet" };
      await fc.send(reject);
      return;
    }
    if (!this.#slots.admit(who, performance.now())) {
      const reject: PieceReject = { t: "reject", tag, error: CHOKED };
      await fc.send(reject);
      return;
    }
    const off = p * pieceSize;
    const buf = pieceBuf.subarray(0, Math.min(pieceSize, size - off));
    // Synchronous: a page-cache read of one piece takes far less than the
    // thread-pool round trip of an async seek and read.
    fh.seekSync(off, Deno.SeekMode.Start);
    readFullySync(fh, buf);
    await fc.sendData(tag >>> 0, buf);
    this.#bytesSent += buf.length;
    this.#piecesSent++;
    this.#slots.served(who, performance.now());
  }
}
