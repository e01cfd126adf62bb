/**
 * Peers that lie to a real downloader: a welcome that claims every piece
 * followed by rejects or by silence, pieces of another file (right length,
 * wrong bytes), pieces with bytes appended, and a data frame larger than any
 * piece frame. The downloader writes none of it, keeps running, and finishes
 * the file from an honest seeder, byte for byte.
 *
 * The liars are built on shoal's own codec (`FramedConn`) and register the
 * true file's metadata with the tracker through the raw protocol.
 */
import assert from "node:assert/strict";
import { MAX_STRIKES } from "../peer/download/sources.ts";
import type { PieceListener } from "../peer/serve/piece_listener.ts";
import { FramedConn } from "../shared/conn.ts";
import { MAX_CONTROL_FRAME, MAX_DATA_FRAME, PIECE_SIZE } from "../shared/constants.ts";
import { type FileMeta, fileMeta, RawTracker } from "./fake_peer.ts";
import { assertSameBytes, exists, randomBytes, readDownloads } from "./harness/files.ts";
import { freePort } from "./harness/ports.ts";
import type { PeerShell } from "./harness/shell.ts";
import { GROUP, Swarm } from "./harness/swarm.ts";
import { delay, waitFor } from "./harness/wait.ts";

const MiB = 1024 * 1024;

/** How a {@linkcode LyingPeer} answers a `get` after welcoming with `have: "all"`. */
type Lie =
  /** `{t:"reject"}` for every piece. */
  | "reject"
  /** No answer at all. */
  | "silent"
  /** The same piece of another file of the same size: right length, wrong bytes. */
  | "other-file"
  /** The true piece followed by 16 more bytes (still under the data-frame limit). */
  | "longer"
  /** A data frame of two pieces, above the data-frame limit. */
  | "huge";

/** What a {@linkcode LyingPeer} saw and did. */
interface LieStats {
  connections: number;
  /** Connections that ended while this peer was still running. */
  ended: number;
  gets: number;
  /** Answers sent (rejects or data frames). */
  answers: number;
}

/** A group member that registers a file with the tracker and lies when asked for it. */
class LyingPeer {
  readonly tracker: RawTracker;
  readonly addr: string;
  readonly lie: Lie;
  readonly stats: LieStats = { connections: 0, ended: 0, gets: 0, answers: 0 };
  #listener: PieceListener | null = null;
  #conns = new Set<FramedConn>();
  #accepting: Promise<void> = Promise.resolve();
  #closing = false;
  #data: Uint8Array = new Uint8Array();
  #other: Uint8Array = new Uint8Array();
  #meta: FileMeta | null = null;

  private constructor(tracker: RawTracker, addr: string, lie: Lie) {
    this.tracker = tracker;
    this.addr = addr;
    this.lie = lie;
  }

  /** Logs in as `user` (a member of {@linkcode GROUP}, accepted by `owner`). */
  static async start(s: Swarm, owner: PeerShell, user: string, lie: Lie): Promise<LyingPeer> {
    const tracker = await RawTracker.connect(s.pair.endpoints[0], await s.pair.ca());
    const liar = new LyingPeer(tracker, `127.0.0.1:${freePort()}`, lie);
    try {
      await tracker.signUp(user, `pw-${user}`, liar.addr);
      await tracker.call("join_group", { group: GROUP });
      await owner.ok(`accept_request ${GROUP} ${user}`);
    } catch (err) {
      await liar.close();
      throw err;
    }
    return liar;
  }

  /** Registers `data` with the tracker as a full seeder and starts answering requests for it. */
  async share(meta: FileMeta, data: Uint8Array): Promise<void> {
    this.#meta = meta;
    this.#data = data;
    this.#other = randomBytes(data.length);
    // Mutual TLS with the certificate the tracker issued at login, as a real peer serves.
    this.#listener = await this.tracker.listen();
    this.#accepting = this.#accept(this.#listener);
    await this.tracker.call("share_file", { ...meta });
  }

  /** Stops listening, drops every connection and closes the tracker connection. */
  async close(): Promise<void> {
    this.#closing = true;
    try {
      this.#listener?.close();
    } catch { /* closed */ }
    for (const c of this.#conns) c.close();
    await this.#accepting;
    await this.tracker.close();
  }

  async #accept(listener: PieceListener): Promise<void> {
    try {
      for await (const { conn } of listener) {
        const fc = new FramedConn(conn, { maxFrame: MAX_CONTROL_FRAME });
        this.stats.connections++;
        this.#conns.add(fc);
        this.#serve(fc).catch(() => {}).finally(() => {
          if (!this.#closing) this.stats.ended++;
          fc.close();
          this.#conns.delete(fc);
        });
      }
    } catch { /* listener closed */ }
  }

  async #serve(fc: FramedConn): Promise<void> {
    const meta = this.#meta!;
    let welcomed = false;
    for await (const f of fc.frames()) {
      if (f.kind !== "json") return;
      if (!welcomed) {
        if (f.msg.t !== "hello" || f.msg.sha1 !== meta.sha1) return;
        // The lie: every piece is claimed.
        await fc.send({ t: "welcome", have: "all" });
        welcomed = true;
        continue;
      }
      if (f.msg.t !== "get") return;
      this.stats.gets++;
      const tag = Number(f.msg.tag) >>> 0;
      const off = Number(f.msg.piece) * meta.pieceSize;
      const end = Math.min(meta.size, off + meta.pieceSize);
      switch (this.lie) {
        case "silent":
          continue;
        case "reject":
          await fc.send({ t: "reject", tag: f.msg.tag, error: "piece not here yet" });
          break;
        case "other-file":
          await fc.sendData(tag, this.#other.slice(off, end));
          break;
        case "longer": {
          const bytes = new Uint8Array(end - off + 16);
          bytes.set(this.#data.subarray(off, end));
          await fc.sendData(tag, bytes);
          break;
        }
        case "huge":
          await fc.sendData(tag, randomBytes(2 * PIECE_SIZE));
          break;
      }
      this.stats.answers++;
    }
  }
}

/** dave's recorded download of `name`: verified pieces and status. */
function progressOf(dave: PeerShell, name: string) {
  const row = readDownloads(dave.stateDir).find((r) => r.name === name);
  assert.ok(row, `dave has no download of ${name}`);
  return row;
}

/**
 * alice (the honest seeder) shares the file; dave finishes it and it equals
 * the original byte for byte, with nothing left under `.part`.
 */
async function honestSeederFinishes(
  s: Swarm,
  alice: PeerShell,
  dave: PeerShell,
  data: Uint8Array,
  name: string,
  dst: string,
  timeoutMs = 15_000,
): Promise<void> {
  const src = await s.mkdir(`src-${name}`);
  await Deno.writeFile(`${src}/${name}`, data);
  await alice.ok(`upload_file ${src}/${name} ${GROUP}`);
  await dave.waitStdout(new RegExp(`download of ${name.replace(".", "\\.")} complete`), {
    timeoutMs,
  });
  await assertSameBytes(`${dst}/${name}`, `${src}/${name}`);
  assert.equal(await exists(`${dst}/${name}.part`), false, "the .part file is gone");
  assert.equal(progressOf(dave, name).status, "C");
  assert.equal(dave.alive, true);
}

Deno.test("peers that claim every piece but reject or never answer: the file comes from an honest seeder", async () => {
  await Swarm.run(async (s) => {
    const alice = await s.member("alice");
    const dave = await s.member("dave");
    const data = randomBytes(8 * MiB - 777);
    const meta = await fileMeta(GROUP, "claims.bin", data);
    const rejecter = await LyingPeer.start(s, alice, "rejecter", "reject");
    const silent = await LyingPeer.start(s, alice, "silent", "silent");
    try {
      await rejecter.share(meta, data);
      await silent.share(meta, data);
      const dst = await s.mkdir("dst");
      await dave.ok(`download_file ${GROUP} claims.bin ${dst}`);
      await waitFor(() => rejecter.stats.answers >= 8 && silent.stats.gets >= 8, {
        what: "dave to ask both liars for pieces",
      });
      await delay(1000);
      // Nothing was verified, the download goes on, and dave is fine.
      assert.equal(progressOf(dave, "claims.bin").count, 0);
      assert.equal(progressOf(dave, "claims.bin").status, "D");
      assert.equal(dave.alive, true);
      assert.match((await dave.run("show_downloads")).join("\n"), /\[D\] \[g1\] claims\.bin/);
      assert.equal(silent.stats.answers, 0);
      // The pieces the silent liar holds are taken over at the end, well before they time out.
      const shared = Date.now();
      await honestSeederFinishes(s, alice, dave, data, "claims.bin", dst);
      assert.ok(Date.now() - shared < 15_000);
    } finally {
      await rejecter.close();
      await silent.close();
    }
  });
});

Deno.test("peers sending another file's pieces or pieces with extra bytes are dropped; the file arrives intact", async () => {
  await Swarm.run(async (s) => {
    const alice = await s.member("alice");
    const dave = await s.member("dave");
    const data = randomBytes(8 * MiB - 1234);
    const meta = await fileMeta(GROUP, "mixed.bin", data);
    const swapper = await LyingPeer.start(s, alice, "swapper", "other-file");
    const padder = await LyingPeer.start(s, alice, "padder", "longer");
    try {
      await swapper.share(meta, data);
      await padder.share(meta, data);
      const dst = await s.mkdir("dst");
      await dave.ok(`download_file ${GROUP} mixed.bin ${dst}`);
      for (const liar of [swapper, padder]) {
        const dropped = `Dropping peer "${liar.addr}" for "mixed.bin"`;
        await waitFor(() => dave.stderr.includes(dropped), {
          what: `dave to drop ${liar.lie} (${liar.addr})`,
        });
        assert.ok(liar.stats.answers >= MAX_STRIKES, `${liar.lie}: ${liar.stats.answers} sent`);
        const strikes = dave.stderr.match(
          new RegExp(`Bad piece \\d+ of "mixed\\.bin" from "${liar.addr}"`, "g"),
        ) ?? [];
        assert.ok(strikes.length >= MAX_STRIKES, `${liar.lie}: ${strikes.length} bad pieces seen`);
      }
      // None of the lying data was accepted.
      assert.equal(progressOf(dave, "mixed.bin").count, 0);
      assert.equal(dave.alive, true);
      const before = swapper.stats.connections + padder.stats.connections;
      await honestSeederFinishes(s, alice, dave, data, "mixed.bin", dst);
      assert.equal(
        swapper.stats.connections + padder.stats.connections,
        before,
        "the dropped liars were not contacted again",
      );
    } finally {
      await swapper.close();
      await padder.close();
    }
  });
});

Deno.test("a data frame larger than any piece frame closes that connection; the file arrives intact", async () => {
  await Swarm.run(async (s) => {
    const alice = await s.member("alice");
    const dave = await s.member("dave");
    const data = randomBytes(4 * MiB + 5);
    const meta = await fileMeta(GROUP, "huge.bin", data);
    const liar = await LyingPeer.start(s, alice, "bloater", "huge");
    try {
      assert.ok(2 * PIECE_SIZE + 5 > MAX_DATA_FRAME);
      await liar.share(meta, data);
      const dst = await s.mkdir("dst");
      await dave.ok(`download_file ${GROUP} huge.bin ${dst}`);
      // dave hangs up on a connection as soon as an oversized frame's length arrives.
      await waitFor(() => liar.stats.ended >= 2, {
        what: "dave to close connections that sent oversized frames",
      });
      assert.equal(progressOf(dave, "huge.bin").count, 0);
      assert.equal(progressOf(dave, "huge.bin").status, "D");
      assert.equal(dave.alive, true);
      await honestSeederFinishes(s, alice, dave, data, "huge.bin", dst);
    } finally {
      await liar.close();
    }
  });
});
