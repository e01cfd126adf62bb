/**
 * The authenticated link between the two trackers: the handshake (HMAC
 * challenge-response over the cluster key) and the framed connection after it.
 *
 * Dialer → acceptor: `link_hello {n, nonce, ts, mac}`; the acceptor verifies the
 * MAC (and the timestamp, and that the nonce is new) before it sends anything;
 * a connection that fails gets no reply and is closed. Acceptor → dialer:
 * `link_welcome {n, nonce, mac}` proving it knows the key too; dialer →
 * acceptor: `link_confirm {mac}` over the acceptor's nonce, so a replayed hello
 * can never complete.
 */
import { FramedConn } from "../../shared/conn.ts";
import { MAX_CONTROL_FRAME, MAX_LINK_FRAME } from "../../shared/constants.ts";
import { ConnectionError, ProtocolError } from "../../shared/errors.ts";
import type { Message } from "../../shared/frame.ts";
import type { Endpoint } from "../../shared/tracker_info.ts";
import { HELLO_MAX_SKEW_MS, mac, randomHex, verifyMac } from "./cluster_key.ts";
import { decodeLinkMessage, type LinkMessage, LinkMessageError } from "./link_messages.ts";

/** How long the whole link handshake may take. */
export const LINK_HANDSHAKE_TIMEOUT_MS = 3000;

const seenNonces = new Map<string, number>();

/** An authenticated link to the other tracker. */
export interface Link {
  conn: FramedConn;
  /** The tracker number (1 or 2) that dialed this link. */
  dialer: number;
  /** Frames after the handshake. */
  messages: AsyncGenerator<Message>;
}

/**
 * Yields the control messages of a connection. A data frame is a protocol
 * error: the remote is told why, then the connection is closed.
 */
export async function* jsonMessages(conn: FramedConn): AsyncGenerator<Message> {
  for await (const f of conn.frames()) {
    if (f.kind !== "json") {
      const error = "data frames are not accepted on this connection";
      await conn.send({ t: "error", error }).catch(() => {});
      throw new ProtocolError(error);
    }
    yield f.msg;
  }
}

/** The handshake message `msg` is, or null when it is malformed. */
function decodeOrNull(msg: Message): LinkMessage | null {
  try {
    return decodeLinkMessage(msg);
  } catch (err) {
    if (err instanceof LinkMessageError) return null;
    throw err;
  }
}

async function next(gen: AsyncGenerator<Message>, conn: FramedConn): Promise<Message> {
  const timer = setTimeout(() => conn.close(), LINK_HANDSHAKE_TIMEOUT_MS);
  try {
    const r = await gen.next();
    if (r.done) throw new ConnectionError("Tracker link closed during the handshake");
    return r.value;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Dials the other tracker over TLS (its certificate must chain to `caPem`
 * and name its address) and authenticates the link with the cluster key.
 */
export async function dialLink(
  to: Endpoint,
  me: 1 | 2,
  key: CryptoKey,
  options: {
    caPem: string;
    /** Shown to the other tracker (mutual TLS), which checks it against the same CA. */
    identity?: { cert: string; key: string };
    signal?: AbortSignal;
    timeoutMs?: number;
  },
): Promise<Link> {
  const { signal } = options;
  const conn = await FramedConn.connect(to, {
    maxFrame: MAX_CONTROL_FRAME,
    idleTimeoutMs: 0,
    timeoutMs: options.timeoutMs ?? 1000,
    signal,
    tls: { caCerts: [options.caPem], ...options.identity },
  });
  try {
    const nonce = randomHex(16);
    const ts = Date.now();
    const hello: LinkMessage = {
      t: "link_hello",
      n: me,
      nonce,
      ts,
      mac: await mac(key, "hello", me, nonce, ts),
    };
    await conn.send(hello);
    const messages = jsonMessages(conn);
    const welcome = decodeOrNull(await next(messages, conn));
    if (
      welcome?.t !== "link_welcome" ||
      !(await verifyMac(key, welcome.mac, "welcome", welcome.n, nonce, welcome.nonce))
    ) {
      throw new ProtocolError("The other tracker failed the cluster key check");
    }
    conn.setMaxFrame(MAX_LINK_FRAME);
    const confirm: LinkMessage = {
      t: "link_confirm",
      mac: await mac(key, "confirm", me, welcome.nonce),
    };
    await conn.send(confirm);
    return { conn, dialer: me, messages };
  } catch (err) {
    conn.close();
    throw err;
  }
}

/**
 * Completes the handshake of an incoming connection whose first message was
 * `hello`. Returns null (and closes the connection, having sent nothing) when
 * the check fails.
 */
export async function acceptLink(
  conn: FramedConn,
  messages: AsyncGenerator<Message>,
  hello: Message,
  me: 1 | 2,
  key: CryptoKey,
): Promise<Link | null> {
  const now = Date.now();
  for (const [k, exp] of seenNonces) if (exp < now) seenNonces.delete(k);
  const h = decodeOrNull(hello);
  if (
    h?.t !== "link_hello" || h.n === me || Math.abs(now - h.ts) > HELLO_MAX_SKEW_MS ||
    seenNonces.has(h.nonce) || !(await verifyMac(key, h.mac, "hello", h.n, h.nonce, h.ts))
  ) {
    conn.close();
    return null;
  }
  const { n, nonce } = h;
  seenNonces.set(nonce, now + 2 * HELLO_MAX_SKEW_MS);
  const mine = randomHex(16);
  try {
    const welcome: LinkMessage = {
      t: "link_welcome",
      n: me,
      nonce: mine,
      mac: await mac(key, "welcome", me, nonce, mine),
    };
    await conn.send(welcome);
    const confirm = decodeOrNull(await next(messages, conn));
    if (confirm?.t !== "link_confirm" || !(await verifyMac(key, confirm.mac, "confirm", n, mine))) {
      conn.close();
      return null;
    }
  } catch {
    conn.close();
    return null;
  }
  conn.setMaxFrame(MAX_LINK_FRAME);
  return { conn, dialer: n, messages };
}
