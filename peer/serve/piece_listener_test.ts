/** Tests of the piece server's mutual-TLS listener and its socket adapter. */
import assert from "node:assert/strict";
import { PieceListener } from "./piece_listener.ts";
import { dialAs, testCa, testIdentity } from "./_test_identities.ts";

const HOUR = 3_600_000;

/** What a client gets from the server: the bytes read until close, or the error that ended it. */
async function firstRead(conn: Deno.Conn): Promise<number | null | string> {
  const buf = new Uint8Array(16);
  try {
    return await conn.read(buf);
  } catch (err) {
    return (err as Error).message;
  } finally {
    conn.close();
  }
}

/** A listener on a free port that answers every connection with `hello` and closes. */
async function greeter(ca: string) {
  const listener = await PieceListener.listen({ hostname: "127.0.0.1", port: 0, ca });
  const names: string[] = [];
  const serving = (async () => {
    for await (const { conn, peer } of listener) {
      names.push(peer.name);
      await conn.write(new TextEncoder().encode("hello"));
      conn.close();
    }
  })();
  const close = async () => {
    listener.close();
    await serving;
  };
  return { listener, names, port: listener.addr.port, close };
}

Deno.test("piece listener: refuses every handshake until it has an identity, and after it drops it", async () => {
  const ca = await testCa();
  const server = await testIdentity(ca, "bob");
  const alice = await testIdentity(ca, "alice");
  const g = await greeter(ca.certPem);
  try {
    const before = await dialAs(ca.certPem, g.port, alice);
    await assert.rejects(() => before.handshake());
    before.close();
    g.listener.setIdentity({ cert: server.cert, key: server.key });
    assert.equal(await firstRead(await dialAs(ca.certPem, g.port, alice)), 5);
    assert.deepEqual(g.names, ["alice"]);
    g.listener.setIdentity(null);
    const after = await dialAs(ca.certPem, g.port, alice);
    await assert.rejects(() => after.handshake());
    after.close();
    assert.deepEqual(g.names, ["alice"]);
  } finally {
    await g.close();
  }
});

Deno.test("piece listener: no byte for a client without a certificate, with another CA's, or one not valid now", async () => {
  const ca = await testCa();
  const other = await testCa();
  const now = Date.now();
  const g = await greeter(ca.certPem);
  g.listener.setIdentity(await testIdentity(ca, "bob"));
  try {
    const clients = {
      none: null,
      otherCa: await testIdentity(other, "alice"),
      expired: await testIdentity(ca, "alice", { from: now - 2 * HOUR, to: now - HOUR }),
      notYet: await testIdentity(ca, "alice", { from: now + HOUR, to: now + 2 * HOUR }),
    };
    for (const [what, id] of Object.entries(clients)) {
      const got = await firstRead(await dialAs(ca.certPem, g.port, id));
      assert.ok(typeof got === "string" || got === null, `${what}: got ${got} bytes`);
    }
    assert.deepEqual(g.names, []);
    // A client that trusts another CA does not finish the handshake either.
    const wrongTrust = await dialAs(other.certPem, g.port, await testIdentity(other, "eve"));
    await assert.rejects(() => wrongTrust.handshake());
    wrongTrust.close();
    assert.equal(
      await firstRead(await dialAs(ca.certPem, g.port, await testIdentity(ca, "al"))),
      5,
    );
    assert.deepEqual(g.names, ["al"]);
  } finally {
    await g.close();
  }
});

Deno.test("piece listener: a plaintext client gets at most a TLS alert record, then the close", async () => {
  const ca = await testCa();
  const g = await greeter(ca.certPem);
  g.listener.setIdentity(await testIdentity(ca, "bob"));
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: g.port });
    await conn.write(new TextEncoder().encode('\x00\x00\x00\x10{"t":"hello"}xxx'));
    const got: number[] = [];
    const buf = new Uint8Array(1024);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        got.push(...buf.subarray(0, n));
      }
    } catch { /* reset */ }
    conn.close();
    assert.ok(got.length === 0 || got[0] === 0x15, `first byte ${got[0]}`);
    assert.ok(got.length <= 7, `${got.length} bytes`);
    assert.deepEqual(g.names, []);
  } finally {
    await g.close();
  }
});

Deno.test("piece listener: the adapter moves bytes both ways; a written buffer may be reused once written", async () => {
  const ca = await testCa();
  const listener = await PieceListener.listen({ hostname: "127.0.0.1", port: 0, ca: ca.certPem });
  listener.setIdentity(await testIdentity(ca, "bob"));
  const CHUNK = 256 * 1024;
  const COUNT = 64;
  const serving = (async () => {
    for await (const { conn } of listener) {
      const ask = new Uint8Array(4);
      assert.equal(await conn.read(ask), 4);
      const buf = new Uint8Array(CHUNK);
      for (let i = 0; i < COUNT; i++) {
        buf.fill(i);
        assert.equal(await conn.write(buf), CHUNK);
      }
      conn.close();
    }
  })();
  try {
    const conn = await dialAs(ca.certPem, listener.addr.port, await testIdentity(ca, "alice"));
    await conn.write(Uint8Array.of(1, 2, 3, 4));
    const buf = new Uint8Array(CHUNK);
    let at = 0;
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      for (let k = 0; k < n; k++) {
        if (buf[k] !== Math.floor((at + k) / CHUNK)) assert.fail(`byte ${at + k} is ${buf[k]}`);
      }
      at += n;
    }
    conn.close();
    assert.equal(at, CHUNK * COUNT);
  } finally {
    listener.close();
    await serving;
  }
});
