import assert from "node:assert/strict";
import { FramedConn } from "./conn.ts";
import { ConnectionError } from "./errors.ts";
import { deriveCa, issueCert } from "./tls/ca.ts";
import { newKeyPair } from "./tls/keys.ts";

const MAX_FRAME = 1 << 20;

/** A TLS listener on loopback with a certificate of a fresh CA; returns both. */
async function tlsServer() {
  const ca = await deriveCa(crypto.getRandomValues(new Uint8Array(32)));
  const pair = await newKeyPair();
  const cert = await issueCert(ca, {
    publicKey: pair.publicKey,
    name: "server",
    ips: ["127.0.0.1"],
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3600_000),
    serial: "0a",
  });
  const identity = { cert, key: pair.keyPem };
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...identity });
  return { ca, identity, listener, addr: { hostname: "127.0.0.1", port: listener.addr.port } };
}

Deno.test("FramedConn.connect() speaks frames over TLS to a server its CA vouches for", async () => {
  const s = await tlsServer();
  try {
    const echo = (async () => {
      const conn = new FramedConn(await s.listener.accept(), { maxFrame: MAX_FRAME });
      for await (const f of conn.frames()) {
        if (f.kind === "json") await conn.send({ ...f.msg, t: "echo" });
      }
    })();
    // A client certificate may be shown even to a server that asks for none.
    const fc = await FramedConn.connect(s.addr, {
      maxFrame: MAX_FRAME,
      tls: { caCerts: [s.ca.certPem], cert: s.identity.cert, key: s.identity.key },
    });
    await fc.send({ t: "ping", n: 1 });
    const first = await fc.frames().next();
    assert.deepEqual(first.value?.kind === "json" && first.value.msg, { t: "echo", n: 1 });
    fc.close();
    await echo;
  } finally {
    s.listener.close();
  }
});

Deno.test("FramedConn.connect() refuses a server whose certificate another CA signed", async () => {
  const s = await tlsServer();
  const other = await deriveCa(crypto.getRandomValues(new Uint8Array(32)));
  const accepted = s.listener.accept().then((c) => {
    c.read(new Uint8Array(16)).catch(() => {}).finally(() => c.close());
  });
  try {
    await assert.rejects(
      FramedConn.connect(s.addr, { maxFrame: MAX_FRAME, tls: { caCerts: [other.certPem] } }),
      (err: Error) =>
        err instanceof ConnectionError && /Cannot connect to 127\.0\.0\.1/.test(err.message),
    );
    await accepted;
  } finally {
    s.listener.close();
  }
});

Deno.test("FramedConn.connect() gives up on a server that never finishes the handshake", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const ca = await deriveCa(crypto.getRandomValues(new Uint8Array(32)));
  try {
    const started = Date.now();
    await assert.rejects(
      FramedConn.connect({ hostname: "127.0.0.1", port: listener.addr.port }, {
        maxFrame: MAX_FRAME,
        timeoutMs: 200,
        tls: { caCerts: [ca.certPem] },
      }),
      ConnectionError,
    );
    assert.ok(Date.now() - started < 2000);
  } finally {
    (await accepted).close();
    listener.close();
  }
});
