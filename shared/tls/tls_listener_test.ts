import assert from "node:assert/strict";
import { deriveCa, issueCert } from "./ca.ts";
import { newKeyPair } from "./keys.ts";
import { TlsListener } from "./tls_listener.ts";

Deno.test("TlsListener hands out TLS connections that answer a burst of small pipelined requests in order", async () => {
  const ca = await deriveCa(crypto.getRandomValues(new Uint8Array(32)));
  const kp = await newKeyPair();
  const now = Date.now();
  const cert = await issueCert(ca, {
    publicKey: kp.publicKey,
    name: "tracker 1",
    ips: ["127.0.0.1"],
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 3_600_000),
    serial: "01",
  });
  const listener = await TlsListener.listen({
    hostname: "127.0.0.1",
    port: 0,
    cert,
    key: kp.keyPem,
  });
  const N = 500;
  // The server answers every 8-byte request with its own 8-byte write, as the tracker does.
  const served = (async () => {
    for await (const conn of listener) {
      const buf = new Uint8Array(8);
      for (let i = 0; i < N; i++) {
        let got = 0;
        while (got < 8) {
          const n = await conn.read(buf.subarray(got));
          if (n === null) return;
          got += n;
        }
        await conn.write(buf);
      }
      conn.close();
      return;
    }
  })();
  const client = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: listener.addr.port,
    caCerts: [ca.certPem],
  });
  for (let i = 0; i < N; i++) await client.write(new Uint8Array(8).fill(i & 0xff));
  const back = new Uint8Array(8 * N);
  let got = 0;
  while (got < back.length) {
    const n = await client.read(back.subarray(got));
    if (n === null) break;
    got += n;
  }
  assert.equal(got, back.length);
  assert.equal(back[8 * 7], 7);
  for (let i = 0; i < N; i++) assert.equal(back[8 * i], i & 0xff);
  client.close();
  listener.close();
  await served;
});

Deno.test("TlsListener with a client CA admits clients without a certificate or with one of that CA, and closes on one of another CA", async () => {
  const ca = await deriveCa(crypto.getRandomValues(new Uint8Array(32)));
  const other = await deriveCa(crypto.getRandomValues(new Uint8Array(32)));
  const now = Date.now();
  const certOf = async (from: typeof ca, name: string) => {
    const kp = await newKeyPair();
    const cert = await issueCert(from, {
      publicKey: kp.publicKey,
      name,
      ips: ["127.0.0.1"],
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 3_600_000),
      serial: "02",
    });
    return { cert, key: kp.keyPem };
  };
  const server = await certOf(ca, "tracker 1");
  const listener = await TlsListener.listen({
    hostname: "127.0.0.1",
    port: 0,
    ...server,
    clientCa: ca.certPem,
  });
  // Echoes one byte per connection it is handed.
  const served = (async () => {
    for await (const conn of listener) {
      const buf = new Uint8Array(1);
      conn.read(buf).then((n) => n === 1 ? conn.write(buf) : 0).catch(() => {}).finally(() =>
        conn.close()
      );
    }
  })();
  const echo = async (id?: { cert: string; key: string }): Promise<number | null | string> => {
    const c = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: listener.addr.port,
      caCerts: [ca.certPem],
      ...id,
    });
    try {
      await c.handshake();
      await c.write(new Uint8Array([42]));
      const buf = new Uint8Array(1);
      const n = await c.read(buf);
      return n === 1 ? buf[0]! : n;
    } catch (err) {
      return (err as Error).name;
    } finally {
      try {
        c.close();
      } catch { /* already closed */ }
    }
  };
  try {
    assert.equal(await echo(), 42, "no client certificate: served");
    assert.equal(await echo(await certOf(ca, "alice")), 42, "a certificate of the CA: served");
    const refused = await echo(await certOf(other, "eve"));
    assert.notEqual(refused, 42, "a certificate of another CA gets no byte");
  } finally {
    listener.close();
    await served;
  }
});
