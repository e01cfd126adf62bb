/**
 * `deno run -A bench/floor_bench.ts [--mib 512]`: what the machine itself
 * costs per GiB for the work every download must do, measured with the same
 * APIs shoal uses. The report uses it to say what limits a download here.
 *
 * - SHA-1 of 512 KiB pieces with `crypto.subtle` (four in flight, as a worker does);
 * - streaming SHA-1 with `node:crypto` (the whole-file hash);
 * - writing a new file through the page cache (fresh memory), then writing it
 *   again over the same, already resident pages, then a new file whose pages
 *   are dropped behind the writes every 16 MiB, as a download drops them
 *   behind its whole-file hash (peer/verify/page_cache.ts);
 * - moving bytes over one loopback TCP connection (send and receive copies);
 * - the same over TLS as pieces travel: a node:tls server sending (the piece
 *   server) to a `Deno.connectTls` client (a transfer worker).
 *
 * Prints a table to stderr and one JSON line to stdout: milliseconds per GiB.
 */
import { createHash } from "node:crypto";
import tls from "node:tls";
import { parseArgs } from "node:util";
import { PIECE_SIZE } from "../shared/constants.ts";
import { retainFreedMemory } from "../shared/memory.ts";
import { PageDropper } from "../peer/verify/page_cache.ts";
import { DROP_EVERY } from "../peer/verify/prefix_hash.ts";
import { deriveCa, issueCert } from "../shared/tls/ca.ts";
import { newKeyPair } from "../shared/tls/keys.ts";

const GIB = 1024 ** 3;
/** Piece digests in flight, as in a transfer worker. */
const DIGESTS_IN_FLIGHT = 4;

const { values } = parseArgs({ args: Deno.args, options: { mib: { type: "string" } } });
const bytes = Number(values.mib ?? "512") * 1024 * 1024;
retainFreedMemory();
const piece = new Uint8Array(PIECE_SIZE);
crypto.getRandomValues(piece.subarray(0, 65536));
const pieces = bytes / PIECE_SIZE;

/** Wall milliseconds of `f`, scaled to one GiB. */
async function perGiB(f: () => Promise<void> | void): Promise<number> {
  const t0 = performance.now();
  await f();
  return ((performance.now() - t0) * GIB) / bytes;
}

const subtle = await perGiB(async () => {
  const inFlight: Promise<ArrayBuffer>[] = [];
  for (let i = 0; i < pieces; i++) {
    inFlight.push(crypto.subtle.digest("SHA-1", piece));
    if (inFlight.length >= DIGESTS_IN_FLIGHT) await inFlight.shift();
  }
  await Promise.all(inFlight);
});

const whole = await perGiB(() => {
  const h = createHash("sha1");
  for (let i = 0; i < pieces; i++) h.update(piece);
  h.digest();
});

const dir = await Deno.makeTempDir({ prefix: "shoal-floor-" });
const path = `${dir}/file.bin`;
const writeFile = (create: boolean, dropBehind = false) =>
  perGiB(async () => {
    using f = Deno.openSync(path, { write: true, create, truncate: create });
    const dropper = dropBehind ? await PageDropper.open(path) : null;
    for (let i = 0; i < pieces; i++) {
      let w = 0;
      while (w < piece.length) w += f.writeSync(piece.subarray(w));
      const end = (i + 1) * PIECE_SIZE;
      if (dropper && end % DROP_EVERY === 0) dropper.drop(0, end);
    }
    dropper?.close();
  });
let fresh: number;
let resident: number;
let dropped: number | undefined;
try {
  fresh = await writeFile(true);
  resident = await writeFile(false);
  await Deno.remove(path);
  // Without FFI (or off Linux) nothing can be dropped, and the figure is left out.
  const probe = await PageDropper.open(dir);
  if (probe) {
    probe.close();
    dropped = await writeFile(true, true);
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}

const loopback = await perGiB(async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  const receiving = (async () => {
    const conn = await listener.accept();
    const buf = new Uint8Array(PIECE_SIZE);
    let got = 0;
    while (got < bytes) {
      const n = await conn.read(buf);
      if (n === null) break;
      got += n;
    }
    conn.close();
  })();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  for (let i = 0; i < pieces; i++) {
    let w = 0;
    while (w < piece.length) w += await conn.write(piece.subarray(w));
  }
  await receiving;
  conn.close();
  listener.close();
});

/** A node:tls server on loopback that sends `bytes` to its first client, and that client. */
async function tlsLoopback(): Promise<number> {
  const ca = await deriveCa(crypto.getRandomValues(new Uint8Array(32)));
  const keys = await newKeyPair();
  const cert = await issueCert(ca, {
    publicKey: keys.publicKey,
    name: "floor",
    ips: ["127.0.0.1"],
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3_600_000),
    serial: "01",
  });
  const server = tls.createServer({ cert, key: keys.keyPem, minVersion: "TLSv1.3" });
  server.on("secureConnection", async (socket: tls.TLSSocket) => {
    for (let i = 0; i < pieces; i++) {
      if (!socket.write(piece)) await new Promise((r) => socket.once("drain", r));
    }
    socket.end();
  });
  await new Promise<void>((r) => server.listen({ host: "127.0.0.1", port: 0 }, r));
  const { port } = server.address() as { port: number };
  try {
    return await perGiB(async () => {
      const conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [ca.certPem] });
      const buf = new Uint8Array(PIECE_SIZE);
      for (let got = 0; got < bytes;) {
        const n = await conn.read(buf);
        if (n === null) break;
        got += n;
      }
      conn.close();
    });
  } finally {
    server.close();
  }
}

const loopbackTls = await tlsLoopback();

const result = {
  sha1_subtle_ms: subtle,
  sha1_node_ms: whole,
  write_fresh_ms: fresh,
  write_resident_ms: resident,
  write_dropped_ms: dropped,
  loopback_ms: loopback,
  loopback_tls_ms: loopbackTls,
};
for (const [k, v] of Object.entries(result)) {
  if (v === undefined) continue;
  console.error(`${k.padEnd(18)} ${v.toFixed(0).padStart(6)} ms per GiB`);
}
console.log(JSON.stringify({ floor: result }));
