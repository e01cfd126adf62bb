/**
 * Slow and greedy clients against real processes on loopback: a frame sent
 * one byte a second to a peer's piece server, a thousand idle connections to
 * the tracker, more connections than a piece server admits, and a requester
 * with a valid grant that floods one connection with requests it never reads.
 * Each abuser is cut off (or refused) while real peers keep being served.
 */
import assert from "node:assert/strict";
import {
  HELLO_TIMEOUT_MS,
  MAX_PEER_CONNECTIONS,
  MAX_QUEUED_REQUESTS,
} from "../peer/serve/piece_server.ts";
import { defaultServerWorkers } from "../peer/serve/server_pool.ts";
import { DEFAULT_PARTIAL_TIMEOUT_MS } from "../shared/conn.ts";
import { PIECE_SIZE } from "../shared/constants.ts";
import { encodeJson, type Message } from "../shared/frame.ts";
import { parseEndpoint } from "../shared/tracker_info.ts";
import { type FileMeta, fileMeta, PieceClient, rawMember, type RawTracker } from "./fake_peer.ts";
import { assertSameBytes, randomBytes } from "./harness/files.ts";
import type { PeerShell } from "./harness/shell.ts";
import { GROUP, Swarm } from "./harness/swarm.ts";
import { delay, waitFor } from "./harness/wait.ts";
import { RawClient } from "./_raw_client.ts";

const MiB = 1024 * 1024;
/**
 * How soon a flooding connection must be cut off: well under the partial-frame
 * timeout, which would otherwise close it by chance when a frame is cut in two.
 */
const CUT_OFF_MS = 5000;

interface Setup {
  alice: PeerShell;
  dave: PeerShell;
  eve: RawTracker;
  src: string;
  meta: FileMeta;
  data: Uint8Array;
}

/**
 * alice seeds `pic.bin` (several pieces); dave is a real member that can
 * download it; eve is a member speaking the raw tracker protocol.
 */
async function setup(s: Swarm, size = 4 * PIECE_SIZE + 100): Promise<Setup> {
  const alice = await s.member("alice");
  const dave = await s.member("dave");
  const src = await s.mkdir("src");
  const data = randomBytes(size);
  await Deno.writeFile(`${src}/pic.bin`, data);
  await alice.ok(`upload_file ${src}/pic.bin ${GROUP}`);
  const eve = await rawMember(s.pair, alice, { user: "eve", group: GROUP });
  return { alice, dave, eve, src, data, meta: await fileMeta(GROUP, "pic.bin", data) };
}

function hello(meta: FileMeta, grant: unknown): Message {
  return { t: "hello", group: meta.group, name: meta.name, sha1: meta.sha1, grant };
}

/** A fresh grant for pic.bin, from the tracker, as a member gets it. */
async function grantOf(eve: RawTracker): Promise<unknown> {
  return (await eve.call("lookup_file", { group: GROUP, name: "pic.bin" })).grant;
}

/** Fetches `piece` on a new connection with a valid grant and checks its bytes. */
async function fetchPiece(addr: string, setup: Setup, grant: unknown, piece: number) {
  const c = await PieceClient.connect({ addr, tls: setup.eve.tls() });
  try {
    await c.send(hello(setup.meta, grant));
    const welcome = await c.next();
    assert.ok(welcome.kind === "json" && welcome.msg.t === "welcome", JSON.stringify(welcome));
    await c.send({ t: "get", tag: piece, piece });
    const f = await c.next();
    assert.ok(f.kind === "data" && f.tag === piece, `piece ${piece}: ${JSON.stringify(f)}`);
    const off = piece * PIECE_SIZE;
    assert.deepEqual(
      f.data,
      setup.data.subarray(off, Math.min(setup.data.length, off + PIECE_SIZE)),
    );
  } finally {
    await c.close();
  }
}

/** Downloads pic.bin on dave and checks it byte for byte. */
async function daveDownloads(s: Swarm, st: Setup, timeoutMs = 30_000): Promise<void> {
  const dst = await s.mkdir(`dst-${crypto.randomUUID()}`);
  const since = st.dave.stdout.length;
  await st.dave.ok(`download_file ${GROUP} pic.bin ${dst}`);
  await st.dave.waitStdout(/download of pic\.bin (complete|failed.*)/, { since, timeoutMs });
  assert.match(st.dave.stdout.slice(since), /download of pic\.bin complete/);
  await assertSameBytes(`${dst}/pic.bin`, `${st.src}/pic.bin`);
}

/**
 * Whether the kernel still holds an established TCP connection from local
 * port `localPort` to remote port `remotePort` (read from `/proc/net/tcp`, so
 * the connection's state can be seen without reading from it).
 */
function established(localPort: number, remotePort: number): boolean {
  const hex = (p: number) => p.toString(16).toUpperCase().padStart(4, "0");
  for (const line of Deno.readTextFileSync("/proc/net/tcp").split("\n").slice(1)) {
    const [, local, remote, state] = line.trim().split(/\s+/);
    if (
      local?.endsWith(`:${hex(localPort)}`) && remote?.endsWith(`:${hex(remotePort)}`) &&
      state === "01"
    ) return true;
  }
  return false;
}

Deno.test("a peer's piece server cuts off a frame sent one byte a second, and serves others meanwhile", async () => {
  await Swarm.run(async (s) => {
    const st = await setup(s);
    const grant = await grantOf(st.eve);
    const ep = parseEndpoint(st.alice.addr);
    // One connection sends a valid hello, is welcomed, then dribbles a valid `get`.
    const slowGet = await RawClient.connect(ep, st.eve.tls());
    // Another dribbles the hello itself: the hello timeout cuts it first.
    const slowHello = await RawClient.connect(ep, st.eve.tls());
    try {
      await slowGet.send(hello(st.meta, grant));
      assert.equal((await slowGet.message()).t, "welcome");
      const get = encodeJson({ t: "get", tag: 1, piece: 1 });
      const helloBytes = encodeJson(hello(st.meta, grant));
      const started = Date.now();
      let sent = 0;
      let rounds = 0;
      const dribble = (async () => {
        for (let i = 0; !(slowGet.closed && slowHello.closed); i++) {
          if (!slowGet.closed && i < get.length) {
            await slowGet.write(get.subarray(i, i + 1)).catch(() => {});
          }
          if (!slowHello.closed && i < helloBytes.length) {
            await slowHello.write(helloBytes.subarray(i, i + 1)).catch(() => {});
          }
          sent = i + 1;
          await delay(1000);
          if (Date.now() - started > DEFAULT_PARTIAL_TIMEOUT_MS + 5000) break;
        }
      })();
      // Meanwhile others are served on new connections, piece by piece.
      while (!slowGet.closed && Date.now() - started < DEFAULT_PARTIAL_TIMEOUT_MS + 4000) {
        await fetchPiece(st.alice.addr, st, grant, rounds % 5);
        rounds++;
        if (Date.now() - started < 2000) {
          assert.equal(slowGet.closed, false, "a slow frame is not cut at once");
        }
        await delay(200);
      }
      assert.ok(
        await slowHello.waitClosed(HELLO_TIMEOUT_MS + 2000 - (Date.now() - started)),
        "the connection dribbling its hello is closed after the hello timeout",
      );
      const limit = DEFAULT_PARTIAL_TIMEOUT_MS + 2000;
      assert.ok(
        await slowGet.waitClosed(limit - (Date.now() - started)),
        `the connection dribbling a get is closed within ${limit} ms`,
      );
      const took = Date.now() - started;
      assert.ok(took >= DEFAULT_PARTIAL_TIMEOUT_MS - 1000, `closed too early, after ${took} ms`);
      assert.ok(sent < get.length, `the get was never completed (${sent}/${get.length} bytes)`);
      await dribble;
      // The slow get was never answered: no data frame came back on it.
      for (;;) {
        const ev = await slowGet.read(0);
        if (ev.kind !== "frame") break;
        assert.notEqual(ev.frame.kind, "data", "the dribbled get was not served");
      }
      assert.ok(rounds >= 10, `others were served while the frame hung (${rounds} pieces)`);
      // A real download from the same peer still works.
      await daveDownloads(s, st);
      assert.equal(st.alice.alive, true);
    } finally {
      await slowGet.close();
      await slowHello.close();
      await st.eve.close();
    }
  });
});

Deno.test("a client holding 1,000 connections to the tracker does not stop real peers being served", async () => {
  await Swarm.run(async (s) => {
    const hogs: Deno.TlsConn[] = [];
    try {
      const baseline = (await s.pair.tracker(1).status()).connections;
      // Each hog completes its TLS handshake (one that does not is dropped after
      // the handshake timeout) and then says nothing.
      const caCerts = [await s.pair.ca()];
      for (let i = 0; i < 1000; i++) {
        const hog = await Deno.connectTls({ ...s.pair.endpoints[0], caCerts });
        await hog.handshake();
        hogs.push(hog);
      }
      await waitFor(async () => (await s.pair.tracker(1).status()).connections >= baseline + 1000, {
        what: "the tracker to accept the 1,000 connections",
        intervalMs: 100,
      });
      // Everything a real peer does goes through the tracker: accounts, groups, sharing, lookups.
      const st = await setup(s, 3 * MiB);
      await daveDownloads(s, st);
      // And raw clients on new connections.
      const fresh = await RawClient.connect(s.pair.endpoints[0], await s.pair.ca());
      try {
        const res = await fresh.request("whoami", {});
        assert.equal(res.error, "not logged in");
      } finally {
        await fresh.close();
      }
      await st.eve.close();
      assert.equal(s.pair.tracker(1).alive, true);
      assert.equal(s.pair.tracker(2).alive, true);
      for (const h of hogs.splice(0)) h.close();
      await waitFor(async () => (await s.pair.tracker(1).status()).connections <= baseline + 2, {
        what: "the tracker to drop the closed connections",
        intervalMs: 100,
      });
    } finally {
      for (const h of hogs) h.close();
    }
  });
});

Deno.test("300 connections to a peer's piece server: the excess are refused, and a real download from it completes", async () => {
  await Swarm.run(async (s) => {
    const st = await setup(s, 6 * MiB);
    const hogs: RawClient[] = [];
    try {
      const ep = parseEndpoint(st.alice.addr);
      for (let i = 0; i < 300; i++) hogs.push(await RawClient.connect(ep, st.eve.tls()));
      // The server admits at most MAX_PEER_CONNECTIONS per server worker and closes the rest.
      const admitted = MAX_PEER_CONNECTIONS * defaultServerWorkers();
      const excess = Math.max(0, hogs.length - admitted);
      const refused = await waitFor(() => {
        const n = hogs.filter((h) => h.closed).length;
        return n >= excess ? n : null;
      }, { timeoutMs: HELLO_TIMEOUT_MS - 1000, what: `at least ${excess} of 300 to be refused` })
        .catch(() => hogs.filter((h) => h.closed).length);
      assert.ok(refused >= excess, `${refused} of 300 refused, expected at least ${excess}`);
      if (excess > 0) assert.ok(refused < hogs.length, "the admitted connections stay open");
      // A real download started while the server is full: it gets through once the
      // squatters (which never send a hello) are closed after the hello timeout.
      await daveDownloads(s, st, 30_000);
      assert.ok(
        hogs.every((h) => h.closed),
        `${hogs.filter((h) => !h.closed).length} squatting connections are still open`,
      );
      // And the piece server keeps accepting new connections afterwards.
      await fetchPiece(st.alice.addr, st, await grantOf(st.eve), 0);
    } finally {
      for (const h of hogs) await h.close();
      await st.eve.close();
    }
  });
});

Deno.test("a valid grant holder flooding one connection with 10,000 unread requests is cut off; others still download", async () => {
  await Swarm.run(async (s) => {
    const st = await setup(s, 4 * PIECE_SIZE);
    const grant = await grantOf(st.eve);
    const conn = await Deno.connectTls({ ...parseEndpoint(st.alice.addr), ...st.eve.tls() });
    const serverPort = parseEndpoint(st.alice.addr).port;
    const clientPort = (conn.localAddr as Deno.NetAddr).port;
    try {
      const get = encodeJson({ t: "get", tag: 0, piece: 0 });
      const flood = new Uint8Array(get.length * 10_000);
      for (let i = 0; i < 10_000; i++) flood.set(get, i * get.length);
      const head = encodeJson(hello(st.meta, grant));
      // Written in the background: once the server stops reading, the write may block.
      const writing = (async () => {
        let off = 0;
        const all = new Uint8Array(head.length + flood.length);
        all.set(head);
        all.set(flood, head.length);
        while (off < all.length) off += await conn.write(all.subarray(off));
      })().catch(() => {});
      assert.ok(established(serverPort, clientPort), "the server accepted the connection");
      // Nothing is read: the server's sends block and its queue passes the limit. It must
      // then hang up at once, not when a timer (partial frame 10 s, idle 60 s) fires.
      const flooded = Date.now();
      let closedAfter: number | null = null;
      const watching = waitFor(() => !established(serverPort, clientPort), {
        timeoutMs: CUT_OFF_MS,
        intervalMs: 20,
      }).then(() => closedAfter = Date.now() - flooded, () => {});
      // Meanwhile, and afterwards, a normal download from the same peer completes.
      await daveDownloads(s, st);
      await watching;
      assert.ok(
        closedAfter !== null,
        `the server still holds the connection ${CUT_OFF_MS} ms after it queued more than ` +
          `${MAX_QUEUED_REQUESTS} requests`,
      );
      // Now read what was sent before the close: far fewer pieces than were asked for.
      let bytes = 0;
      try {
        const buf = new Uint8Array(1024 * 1024);
        const deadline = Date.now() + 5000;
        while (Date.now() < deadline && bytes < 200 * PIECE_SIZE) {
          const n = await conn.read(buf);
          if (n === null) break;
          bytes += n;
        }
      } catch { /* reset by the server */ }
      const pieces = Math.floor(bytes / PIECE_SIZE);
      assert.ok(pieces < 200, `the server sent ${pieces} pieces to a flooding requester`);
      await writing;
      assert.equal(st.alice.alive, true);
    } finally {
      try {
        conn.close();
      } catch { /* closed */ }
      await st.eve.close();
    }
  });
});
