import assert from "node:assert/strict";
import fc from "fast-check";
import { SLOT_IDLE_MS, SLOT_TURN_MS, UploadSlots, WAITER_MS } from "./upload_slots.ts";
import { PieceServer } from "./piece_server.ts";
import { PieceListener } from "./piece_listener.ts";
import { dialAs, testCa, testIdentity } from "./_test_identities.ts";
import { ServedFiles } from "./served_files.ts";
import { FramedConn } from "../../shared/conn.ts";
import type { Frame } from "../../shared/frame.ts";
import {
  importSigningKey,
  importVerifyKey,
  newGrantKeyPair,
  signGrant,
} from "../../shared/grant.ts";
import { CHOKED } from "../../shared/protocol/transfer.ts";

Deno.test("upload slots: the first N askers are served, the next is choked until one goes", () => {
  const s = new UploadSlots(2);
  assert.equal(s.admit("a", 0), true);
  assert.equal(s.admit("b", 1), true);
  assert.equal(s.admit("c", 2), false);
  // A holder asks again: still its slot.
  assert.equal(s.admit("a", 3), true);
  assert.equal(s.admit("c", 4), false);
  s.release("b");
  assert.equal(s.admit("c", 5), true);
  assert.equal(s.held, 2);
});

Deno.test("upload slots: a holder that asks nothing for SLOT_IDLE_MS gives its slot up", () => {
  const s = new UploadSlots(1);
  assert.equal(s.admit("a", 0), true);
  s.served("a", 100);
  assert.equal(s.admit("b", 100 + SLOT_IDLE_MS - 1), false);
  assert.equal(s.admit("b", 100 + SLOT_IDLE_MS), true);
});

Deno.test("upload slots: a turn ends after SLOT_TURN_MS only while others wait, then queues", () => {
  const s = new UploadSlots(1);
  // Alone, a holder keeps its slot for as long as it asks.
  for (let t = 0; t <= 3 * SLOT_TURN_MS; t += 100) assert.equal(s.admit("a", t), true);
  const t0 = 3 * SLOT_TURN_MS + 100;
  assert.equal(s.admit("b", t0), false);
  assert.equal(s.admit("c", t0 + 1), false);
  // a's turn is over: it queues behind b and c, who get the slot in the order they came.
  assert.equal(s.admit("a", t0 + 2), false);
  assert.equal(s.admit("c", t0 + 3), false, "b came first");
  assert.equal(s.admit("b", t0 + 4), true);
  s.release("b");
  assert.equal(s.admit("a", t0 + 5), false, "c came first");
  assert.equal(s.admit("c", t0 + 6), true);
});

Deno.test("upload slots: a waiter that stops asking loses its place after WAITER_MS", () => {
  const s = new UploadSlots(1);
  assert.equal(s.admit("a", 0), true);
  assert.equal(s.admit("b", 1), false);
  assert.equal(s.admit("c", 2), false);
  s.release("a");
  // b came first but stopped asking: after WAITER_MS c may have the slot.
  assert.equal(s.admit("c", 3), false);
  assert.equal(s.admit("c", 1 + WAITER_MS), true);
});

Deno.test("upload slots: never more holders than slots, and everyone who keeps asking gets turns", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 2, max: 8 }),
      fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 50, maxLength: 400 }),
      (slots, askers, order) => {
        const s = new UploadSlots(slots);
        const served = new Set<string>();
        let now = 0;
        // Each asker asks in the order given, then all keep asking every 100 ms for 40 s (8 turns).
        for (const k of order) {
          now += 10;
          if (s.admit(`k${k % askers}`, now)) served.add(`k${k % askers}`);
          assert.ok(s.held <= slots);
        }
        for (let round = 0; round < 400; round++) {
          now += 100;
          for (let k = 0; k < askers; k++) {
            if (s.admit(`k${k}`, now)) served.add(`k${k}`);
            assert.ok(s.held <= slots);
          }
        }
        assert.equal(served.size, askers);
      },
    ),
    { numRuns: 100 },
  );
});

/**
 * The first implementation, which scans every waiter on every admit: the
 * reference the queue with lazy expiry must agree with, call for call.
 */
class ReferenceSlots {
  readonly #slots: number;
  readonly #holders = new Map<string, Holder>();
  readonly #waiting = new Map<string, Waiter>();
  #tickets = 0;
  constructor(slots: number) {
    this.#slots = Math.max(1, Math.floor(slots));
  }
  get held(): number {
    return this.#holders.size;
  }
  admit(key: string, now: number): boolean {
    // A newcomer's ticket comes before those of holders whose turn ends now.
    const known = this.#holders.has(key) || this.#waiting.has(key);
    const fresh = known ? -1 : this.#tickets++;
    this.#expire(now);
    const h = this.#holders.get(key);
    if (h) {
      h.last = now;
      return true;
    }
    const w = this.#waiting.get(key);
    const ticket = w?.ticket ?? (fresh >= 0 ? fresh : this.#tickets++);
    let ahead = 0;
    for (const [k, o] of this.#waiting) if (k !== key && o.ticket < ticket) ahead++;
    if (ahead < this.#slots - this.#holders.size) {
      this.#waiting.delete(key);
      this.#holders.set(key, { since: now, last: now });
      return true;
    }
    this.#waiting.set(key, { ticket, last: now });
    return false;
  }
  served(key: string, now: number): void {
    const h = this.#holders.get(key);
    if (h) h.last = now;
  }
  release(key: string): void {
    this.#holders.delete(key);
    this.#waiting.delete(key);
  }

  #expire(now: number): void {
    for (const [k, w] of this.#waiting) if (now - w.last >= WAITER_MS) this.#waiting.delete(k);
    for (const [k, h] of this.#holders) {
      if (now - h.last >= SLOT_IDLE_MS) {
        this.#holders.delete(k);
      } else if (now - h.since >= SLOT_TURN_MS && this.#waiting.size > 0) {
        // Its turn is over while others wait: it joins the back of the queue.
        this.#holders.delete(k);
        this.#waiting.set(k, { ticket: this.#tickets++, last: now });
      }
    }
  }
}

interface Holder {
  since: number;
  last: number;
}
interface Waiter {
  ticket: number;
  last: number;
}

Deno.test("upload slots: the same answers as the scanning reference, call for call", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 4 }),
      fc.array(
        fc.record({
          k: fc.integer({ min: 0, max: 4 }),
          // Mostly quick re-asks, so that turns run out; now and then a pause past the idle and
          // waiter limits.
          dt: fc.oneof(
            { weight: 30, arbitrary: fc.integer({ min: 0, max: 60 }) },
            { weight: 1, arbitrary: fc.integer({ min: 0, max: 2500 }) },
          ),
          op: fc.constantFrom("admit", "admit", "admit", "served", "release"),
        }),
        { minLength: 1, maxLength: 400, size: "max" },
      ),
      (slots, calls) => {
        const fast = new UploadSlots(slots);
        const ref = new ReferenceSlots(slots);
        let now = 0;
        for (const [i, c] of calls.entries()) {
          now += c.dt;
          const key = `k${c.k}`;
          if (c.op === "admit") {
            assert.equal(fast.admit(key, now), ref.admit(key, now), `call ${i}`);
          } else if (c.op === "served") {
            fast.served(key, now);
            ref.served(key, now);
          } else {
            fast.release(key);
            ref.release(key);
          }
          assert.equal(fast.held, ref.held);
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("upload slots: a queue of 10,000 that keeps asking gets its turns in the order it came", () => {
  const s = new UploadSlots(4);
  let now = 0;
  const firstTurn: number[] = [];
  const served = new Set<number>();
  const ask = (k: number) => {
    if (s.admit(`k${k}`, now) && !served.has(k)) {
      served.add(k);
      firstTurn.push(k);
    }
  };
  for (let k = 0; k < 10_000; k++) ask(k);
  // Everyone asks again every 400 ms for 40 s: 13 turns of 4.
  for (let round = 0; round < 100; round++) {
    now += 400;
    for (let k = 0; k < 10_000; k++) ask(k);
    assert.ok(s.held <= 4);
  }
  assert.ok(firstTurn.length >= 40, `${firstTurn.length} served`);
  assert.deepEqual(firstTurn, firstTurn.map((_, i) => i));
});

/** Reads frames until one matches `want` or the connection ends. */
async function next(frames: AsyncGenerator<Frame>): Promise<Frame> {
  const r = await frames.next();
  assert.ok(!r.done, "the server closed the connection");
  return r.value;
}

Deno.test("piece server: with one upload slot a second downloader is choked until the first leaves", async () => {
  const dir = await Deno.makeTempDir({ prefix: "shoal_slots_" });
  const kp = await newGrantKeyPair();
  const verify = await importVerifyKey(kp.publicKey);
  const signer = await importSigningKey(kp.privateKey);
  const piece = 16 * 1024;
  const bytes = crypto.getRandomValues(new Uint8Array(2 * piece));
  const path = `${dir}/f.bin`;
  await Deno.writeFile(path, bytes);
  const meta = { group: "g1", name: "f.bin", size: bytes.length, pieceSize: piece, pieces: "" };
  const file = { meta: { ...meta, sha1: "c".repeat(40) }, path, have: null };
  const files = new ServedFiles();
  files.set(file);
  const ca = await testCa();
  const listener = await PieceListener.listen({ hostname: "127.0.0.1", port: 0, ca: ca.certPem });
  listener.setIdentity(await testIdentity(ca, "server"));
  const server = new PieceServer(listener, { files, grantKey: () => verify, uploadSlots: 1 });
  const open = async (user: string) => {
    const id = await testIdentity(ca, user);
    const fcn = new FramedConn(await dialAs(ca.certPem, listener.addr.port, id), {
      maxFrame: 1024 * 1024,
    });
    const frames = fcn.frames();
    const grant = await signGrant(signer, {
      user,
      id: id.keyId,
      group: "g1",
      name: "f.bin",
      sha1: file.meta.sha1,
      exp: Date.now() + 60_000,
    });
    await fcn.send({ t: "hello", group: "g1", name: "f.bin", sha1: file.meta.sha1, grant });
    const welcome = await next(frames);
    assert.equal(welcome.kind === "json" && welcome.msg.t, "welcome");
    return { fcn, frames };
  };
  try {
    const carol = await open("carol");
    await carol.fcn.send({ t: "get", tag: 1, piece: 0 });
    const got = await next(carol.frames);
    assert.ok(got.kind === "data" && got.tag === 1);
    assert.deepEqual(got.data, bytes.subarray(0, piece));

    const erin = await open("erin");
    await erin.fcn.send({ t: "get", tag: 7, piece: 1 });
    const refused = await next(erin.frames);
    assert.deepEqual(refused.kind === "json" && refused.msg, {
      t: "reject",
      tag: 7,
      error: CHOKED,
    });
    // Carol still holds the slot; once her connection closes it is erin's.
    await carol.fcn.send({ t: "get", tag: 2, piece: 1 });
    assert.ok((await next(carol.frames)).kind === "data");
    carol.fcn.close();
    let data: Frame | null = null;
    for (let i = 0; i < 50 && data === null; i++) {
      await erin.fcn.send({ t: "get", tag: 8 + i, piece: 1 });
      const f = await next(erin.frames);
      if (f.kind === "data") data = f;
      else await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(data && data.kind === "data", "erin was never served");
    assert.deepEqual(data.data, bytes.subarray(piece));
    erin.fcn.close();
  } finally {
    await server.close();
    await new Promise((r) => setTimeout(r, 50));
    await Deno.remove(dir, { recursive: true });
  }
});
