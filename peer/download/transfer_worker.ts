/**
 * A transfer worker (Web Worker). It holds connections to peers, requests the
 * pieces the main thread assigns (several outstanding per connection), checks
 * each piece's SHA-1 and writes it at its offset into the `.part` file. The
 * main thread only plans; no piece data crosses back to it.
 */
/// <reference lib="deno.worker" />
import { FramedConn, type TlsDialOptions } from "../../shared/conn.ts";
import { MAX_DATA_FRAME } from "../../shared/constants.ts";
import { describeError } from "../../shared/errors.ts";
import { sha1Hex } from "../../shared/piece_hash.ts";
import { BufferPool } from "../../shared/buffer_pool.ts";
import { BadMessage } from "../../shared/protocol/bad_message.ts";
import {
  decodeTransferMessage,
  type Hello,
  type PieceRequest,
  type TransferMessage,
} from "../../shared/protocol/transfer.ts";
import type { WorkerCommand, WorkerEvent } from "./transfer_protocol.ts";

/** How long a requested piece may take before the connection counts as failed. */
const PIECE_TIMEOUT_MS = 20_000;

interface Conn {
  fc: FramedConn;
  path: string;
  pieceSize: number;
  size: number;
  hashes: string;
  pending: Map<number, ReturnType<typeof setTimeout>>;
}

const conns = new Map<number, Conn>();
/**
 * Piece buffers: frames are assembled into these and returned after the write.
 * When all are in use, connections stop reading until one is returned.
 */
const pool = new BufferPool(MAX_DATA_FRAME, 8);
const files = new Map<string, { fh: Deno.FsFile; users: number; chain: Promise<void> }>();
/** The CA and this peer's identity, shown to serving peers (mutual TLS); null until it has one. */
let identity: TlsDialOptions | null = null;

function post(e: WorkerEvent): void {
  self.postMessage(e);
}

self.onmessage = (ev: MessageEvent<WorkerCommand>) => {
  const m = ev.data;
  if (m.type === "identity") identity = m.tls;
  else if (m.type === "open") open(m).catch(() => {});
  else if (m.type === "get") get(m.conn, m.piece);
  else if (m.type === "close") conns.get(m.conn)?.fc.close();
  else if (m.type === "drain") {
    const f = files.get(m.path);
    (f ? f.chain : Promise.resolve()).then(() => post({ type: "drained", id: m.id }));
  }
};

async function open(m: Extract<WorkerCommand, { type: "open" }>): Promise<void> {
  let fc: FramedConn;
  const tls = identity;
  if (!tls) {
    post({ type: "failed", conn: m.conn, error: "this peer has no identity certificate yet" });
    return;
  }
  try {
    // One handshake per connection: the connection then carries every piece it is asked for.
    fc = await FramedConn.connect(m.addr, {
      tls,
      maxFrame: MAX_DATA_FRAME,
      alloc: (len) => pool.get(len),
      release: (buf) => pool.release(buf),
      timeoutMs: 3000,
      idleTimeoutMs: 60_000,
    });
  } catch (err) {
    post({ type: "failed", conn: m.conn, error: describeError(err) });
    return;
  }
  const c: Conn = {
    fc,
    path: m.path,
    pieceSize: m.pieceSize,
    size: m.size,
    hashes: m.hashes,
    pending: new Map(),
  };
  conns.set(m.conn, c);
  let f = files.get(m.path);
  if (!f) {
    try {
      // Synchronous, so that two connections to one file never open it twice.
      f = { fh: Deno.openSync(m.path, { write: true }), users: 0, chain: Promise.resolve() };
    } catch (err) {
      fc.close();
      conns.delete(m.conn);
      post({ type: "failed", conn: m.conn, error: describeError(err) });
      return;
    }
    files.set(m.path, f);
  }
  f.users++;
  let error = "connection closed";
  try {
    const hello: Hello = { t: "hello", group: m.group, name: m.name, sha1: m.sha1, grant: m.grant };
    await fc.send(hello);
    let welcomed = false;
    for await (const frame of fc.frames()) {
      if (frame.kind === "json") {
        let msg: TransferMessage;
        try {
          msg = decodeTransferMessage(frame.msg);
        } catch (err) {
          if (!(err instanceof BadMessage)) throw err;
          error = `peer sent a bad message: ${err.message}`;
          break;
        }
        if (!welcomed && msg.t === "welcome") {
          welcomed = true;
          post({ type: "opened", conn: m.conn, have: msg.have });
        } else if (msg.t === "reject") {
          const piece = msg.tag;
          clearTimeout(c.pending.get(piece));
          c.pending.delete(piece);
          post({ type: "rejected", conn: m.conn, piece, error: msg.error });
        } else if (msg.t === "error") {
          error = `peer said: ${msg.error}`;
          break;
        }
        continue;
      }
      if (!welcomed) {
        error = "data before welcome";
        break;
      }
      const piece = frame.tag;
      if (!c.pending.has(piece)) {
        error = `unrequested piece ${piece}`;
        break;
      }
      clearTimeout(c.pending.get(piece));
      c.pending.delete(piece);
      // A frame that arrived whole is a view of the read buffer: copy it before the next read.
      let data = frame.data as Uint8Array<ArrayBuffer>;
      if (!pool.owns(data)) {
        data = pool.get(frame.data.length);
        data.set(frame.data);
      }
      verifyAndWrite(m.conn, c, f, piece, data);
      // Back-pressure: pieces wait for hashing and writing in pooled buffers only.
      await pool.whenAvailable();
    }
    if (fc.error) error = fc.error.message;
  } catch (err) {
    error = describeError(err);
  } finally {
    for (const t of c.pending.values()) clearTimeout(t);
    fc.close();
    conns.delete(m.conn);
    post({ type: "failed", conn: m.conn, error });
    f.users--;
    if (f.users === 0) {
      await f.chain;
      if (f.users === 0) {
        files.delete(m.path);
        f.fh.close();
      }
    }
  }
}

function verifyAndWrite(
  id: number,
  c: Conn,
  f: { fh: Deno.FsFile; chain: Promise<void> },
  piece: number,
  data: Uint8Array<ArrayBuffer>,
): void {
  if (c.fc.isClosed) {
    // Frames decoded before a close still arrive here: the download no longer wants them.
    pool.release(data);
    return;
  }
  const off = piece * c.pieceSize;
  const expectLen = Math.min(c.pieceSize, c.size - off);
  const check = data.length === expectLen ? sha1Hex(data) : Promise.resolve("");
  // Writes to one file are chained so that seek and write stay together.
  f.chain = f.chain.then(async () => {
    const got = await check;
    if (got !== c.hashes.slice(piece * 40, piece * 40 + 40)) {
      pool.release(data);
      post({ type: "bad", conn: id, piece });
      return;
    }
    try {
      // Synchronous in this worker: cheaper than an async round trip per piece.
      f.fh.seekSync(off, Deno.SeekMode.Start);
      let w = 0;
      while (w < data.length) w += f.fh.writeSync(data.subarray(w));
    } catch (err) {
      post({ type: "writeFailed", conn: id, piece, error: describeError(err) });
      return;
    } finally {
      pool.release(data);
    }
    post({ type: "done", conn: id, piece, bytes: data.length });
  });
}

function get(id: number, piece: number): void {
  const c = conns.get(id);
  if (!c) return;
  c.pending.set(
    piece,
    setTimeout(() => c.fc.fail(new Error(`piece ${piece} timed out`)), PIECE_TIMEOUT_MS),
  );
  const req: PieceRequest = { t: "get", tag: piece, piece };
  c.fc.send(req).catch(() => {});
}
