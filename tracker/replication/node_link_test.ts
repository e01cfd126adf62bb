import assert from "node:assert/strict";
import { ConnectionError, ProtocolError } from "../../shared/errors.ts";
import { encodeJson, FrameDecoder, type Message } from "../../shared/frame.ts";
import type { Endpoint } from "../../shared/tracker_info.ts";
import { loadClusterKey, mac, randomHex } from "./cluster_key.ts";
import { deriveCa } from "../../shared/tls/ca.ts";
import { trackerIdentity } from "../server/tracker_cert.ts";
import { dialLink } from "./link.ts";
import { Client, Cluster, waitFor } from "./_test_cluster.ts";

/** A cluster key nobody else has. */
function strangerKey(): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    crypto.getRandomValues(new Uint8Array(32)),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
}

/** A link_hello from tracker `n`, signed with `key`. */
async function hello(key: CryptoKey, n: number, nonce = randomHex(16), ts = Date.now()) {
  return { t: "link_hello", n, nonce, ts, mac: await mac(key, "hello", n, nonce, ts) };
}

/**
 * Dials `to` on a raw socket, sends `msg` and reads until the tracker closes
 * the connection; returns every byte it sent (fails if it keeps it open).
 */
async function sendRaw(to: Endpoint, caPem: string, msg: Message): Promise<Uint8Array> {
  const conn = await Deno.connectTls({ ...to, caCerts: [caPem] });
  const timer = setTimeout(() => conn.close(), 3000);
  const received: number[] = [];
  try {
    await conn.write(encodeJson(msg));
    const buf = new Uint8Array(4096);
    for (;;) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch (err) {
        assert.fail(`The tracker kept the connection open: ${err}`);
      }
      if (n === null) break;
      received.push(...buf.subarray(0, n));
      // A tracker that answers waits for our next message: stop at its first frame.
      if (new FrameDecoder({ maxFrame: 1 << 20 }).push(new Uint8Array(received)).length > 0) break;
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
  return new Uint8Array(received);
}

Deno.test("a link hello that fails the cluster key check is closed without a byte", async () => {
  const c = await Cluster.create();
  try {
    const t1 = await c.start(1);
    await waitFor("tracker 1 primary", () => t1.node.role === "primary");
    const t2 = await c.start(2);
    await c.settled(1);
    const key = await loadClusterKey(`${c.dir}/cluster.key`);
    const wrong = await strangerKey();
    const to = c.endpoints[0];
    const stale = Date.now() - 120_000;
    const attempts: [string, Message][] = [
      ["a MAC made with another key", await hello(wrong, 2)],
      ["a malformed MAC", { ...(await hello(key, 2)), mac: "not hex" }],
      ["a MAC over other fields", { ...(await hello(key, 2)), ts: Date.now() + 1 }],
      ["the acceptor's own tracker number", await hello(key, 1)],
      ["a timestamp two minutes old", await hello(key, 2, randomHex(16), stale)],
    ];
    for (const [what, msg] of attempts) {
      assert.deepEqual(await sendRaw(to, c.caPem, msg), new Uint8Array(0), what);
    }
    // The right key gets a welcome; the same hello replayed gets nothing.
    const genuine = await hello(key, 2);
    const welcome = new FrameDecoder({ maxFrame: 1 << 20 }).push(
      await sendRaw(to, c.caPem, genuine),
    );
    assert.equal(welcome[0]?.kind === "json" && welcome[0].msg.t, "link_welcome");
    assert.deepEqual(await sendRaw(to, c.caPem, genuine), new Uint8Array(0), "a replayed hello");
    // The real link is undisturbed: writes still reach the secondary.
    assert.equal((t1.node.status().other as { live: boolean }).live, true);
    const client = await Client.connect(to, c.caPem);
    try {
      await client.ok("create_user", { user: "after", password: "pw" });
    } finally {
      await client.close();
    }
    assert.ok(t2.node.state.users.has("after"));
  } finally {
    await c.close();
  }
});

Deno.test("dialLink() without the cluster key is refused by the tracker", async () => {
  const c = await Cluster.create();
  try {
    const t1 = await c.start(1);
    await waitFor("tracker 1 primary", () => t1.node.role === "primary");
    await assert.rejects(
      dialLink(c.endpoints[0], 2, await strangerKey(), { caPem: c.caPem }),
      (err: Error) =>
        err instanceof ConnectionError && /closed during the handshake/.test(err.message),
    );
  } finally {
    await c.close();
  }
});

Deno.test("dialLink() rejects an acceptor that cannot prove it has the key", async () => {
  const key = await strangerKey();
  const ca = await deriveCa(crypto.getRandomValues(new Uint8Array(32)));
  const identity = await trackerIdentity(ca, { n: 1, ip: "127.0.0.1" });
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...identity });
  const impostor = (async () => {
    const conn = await listener.accept();
    try {
      const buf = new Uint8Array(4096);
      await conn.read(buf);
      const welcome = { t: "link_welcome", n: 1, nonce: randomHex(16), mac: "00".repeat(32) };
      await conn.write(encodeJson(welcome));
      await conn.read(buf); // until the dialer hangs up
    } finally {
      conn.close();
    }
  })();
  try {
    await assert.rejects(
      dialLink({ hostname: "127.0.0.1", port: listener.addr.port }, 2, key, { caPem: ca.certPem }),
      ProtocolError,
    );
  } finally {
    await impostor;
    listener.close();
  }
});

Deno.test("dialLink() refuses a tracker whose certificate another CA signed, before any byte of the handshake", async () => {
  const c = await Cluster.create();
  const other = await Cluster.create();
  try {
    const t1 = await c.start(1);
    await waitFor("tracker 1 primary", () => t1.node.role === "primary");
    const key = await loadClusterKey(`${c.dir}/cluster.key`);
    await assert.rejects(
      dialLink(c.endpoints[0], 2, key, { caPem: other.caPem }),
      (err: Error) => err instanceof ConnectionError && /certificate/i.test(err.message),
    );
    assert.notEqual((t1.node.status().other as { live?: boolean } | undefined)?.live, true);
  } finally {
    await other.close();
    await c.close();
  }
});

Deno.test("a plaintext client gets no application byte from a tracker, at most a TLS alert", async () => {
  const c = await Cluster.create();
  try {
    const t1 = await c.start(1);
    await waitFor("tracker 1 primary", () => t1.node.role === "primary");
    const conn = await Deno.connect(c.endpoints[0]);
    const received: number[] = [];
    try {
      await conn.write(encodeJson({ t: "req", id: "1", cmd: "list_groups", args: {} }));
      const buf = new Uint8Array(4096);
      for (;;) {
        const n = await conn.read(buf).catch(() => null);
        if (n === null) break;
        received.push(...buf.subarray(0, n));
      }
    } finally {
      conn.close();
    }
    // Nothing but TLS alert records (content type 21).
    for (let off = 0; off < received.length;) {
      assert.equal(received[off], 0x15, "only TLS alert records");
      off += 5 + ((received[off + 3]! << 8) | received[off + 4]!);
    }
  } finally {
    await c.close();
  }
});
