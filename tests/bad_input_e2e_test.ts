/**
 * Malformed input on real tracker connections: each bad connection is closed
 * (after an error frame where the tracker can send one) while well-behaved
 * clients keep being served and both tracker processes stay up.
 */
import assert from "node:assert/strict";
import { DEFAULT_PARTIAL_TIMEOUT_MS } from "../shared/conn.ts";
import { MAX_CONTROL_FRAME } from "../shared/constants.ts";
import { encodeJson, type Message } from "../shared/frame.ts";
import { TEST_PUBKEY } from "./harness/identity.ts";
import { TrackerPair } from "./harness/tracker_pair.ts";
import { delay, waitFor } from "./harness/wait.ts";
import { RawClient, type RawEvent } from "./_raw_client.ts";

const encoder = new TextEncoder();

/** A frame with the given kind byte and body, correctly length-prefixed. */
function frame(kind: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  new DataView(out.buffer).setUint32(0, body.length + 1);
  out[4] = kind;
  out.set(body, 5);
  return out;
}

function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

/** Byte sequences the tracker must refuse, each on its own connection. */
const MALFORMED: [string, Uint8Array][] = [
  ["garbage bytes (an HTTP request)", encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n")],
  ["a length prefix of 0xFFFFFFFF", u32(0xffffffff)],
  ["a length prefix one byte over the limit", u32(MAX_CONTROL_FRAME + 1)],
  ["a zero length prefix", u32(0)],
  ["a frame of unknown kind 7", frame(7, encoder.encode("{}"))],
  ["a JSON frame that is not JSON", frame(1, encoder.encode("{{not json"))],
  ["a JSON frame that is not an object", frame(1, encoder.encode("[1,2]"))],
  ["a JSON frame without a string t", frame(1, encoder.encode('{"t":5}'))],
  ["a JSON frame with invalid UTF-8", frame(1, new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]))],
];

function describe(ev: RawEvent): string {
  return ev.kind === "frame" ? JSON.stringify(ev.frame) : ev.kind;
}

/** A logged-in raw client on tracker 1, and a check that it is still answered. */
async function goodClient(pair: TrackerPair): Promise<{ raw: RawClient; check(): Promise<void> }> {
  const raw = await RawClient.connect(pair.endpoints[0], await pair.ca());
  const created = await raw.request("create_user", { user: "good", password: "pw" });
  assert.equal(created.ok, true, JSON.stringify(created));
  const login = await raw.request("login", {
    user: "good",
    password: "pw",
    addr: "127.0.0.1:9",
    pubkey: TEST_PUBKEY,
  });
  const token = String((login.data as Record<string, unknown>).token);
  return {
    raw,
    async check() {
      const res = await raw.request("whoami", {}, token);
      assert.equal(res.ok, true, `the good client is still served: ${JSON.stringify(res)}`);
      assert.equal((res.data as Record<string, unknown>).user, "good");
    },
  };
}

let healthChecks = 0;

/** Asserts that both trackers still run, kept their roles, and answer new connections. */
async function assertPairHealthy(pair: TrackerPair): Promise<void> {
  assert.equal(pair.tracker(1).alive, true, "tracker 1 still runs");
  assert.equal(pair.tracker(2).alive, true, "tracker 2 still runs");
  const ca = await pair.ca();
  const [one, two] = await Promise.all(pair.endpoints.map((ep) => RawClient.connect(ep, ca)));
  try {
    // A write: it is answered only once the secondary holds it too.
    const user = `healthy-${++healthChecks}`;
    const a = await one!.request("create_user", { user, password: "pw" });
    assert.deepEqual(a.data, { user }, JSON.stringify(a));
    const b = await two!.request("whoami", {});
    assert.equal(b.code, "not_primary", "tracker 2 is still the secondary");
  } finally {
    await Promise.all([one!.close(), two!.close()]);
  }
  const s2 = await pair.tracker(2).status();
  assert.equal(s2.role, "secondary");
  assert.match(s2.other, /^other tracker: connected, primary, epoch 1,/);
  // The primary learns the other's role from heartbeats, so its view may lag a moment.
  const s1 = await waitFor(async () => {
    const s = await pair.tracker(1).status();
    return s.other.startsWith("other tracker: connected, secondary") ? s : null;
  }, { what: "tracker 1 to see tracker 2 as secondary", intervalMs: 100 });
  assert.deepEqual([s1.role, s1.epoch], ["primary", 1], "tracker 1 is still the first primary");
}

Deno.test("tracker answers malformed frames with an error frame and closes only that connection", async () => {
  const pair = await TrackerPair.start();
  const bad: RawClient[] = [];
  try {
    const good = await goodClient(pair);
    bad.push(good.raw);
    const baseline = (await pair.tracker(1).status()).connections;
    for (const n of [1, 2] as const) {
      for (const [what, bytes] of MALFORMED) {
        const raw = await RawClient.connect(pair.endpoints[n - 1]!, await pair.ca());
        bad.push(raw);
        await raw.write(bytes);
        const first = await raw.read(5000);
        assert.ok(
          first.kind === "frame" && first.frame.kind === "json" && first.frame.msg.t === "error" &&
            typeof first.frame.msg.error === "string",
          `tracker ${n}, ${what}: expected an error frame, got ${describe(first)}`,
        );
        assert.equal(await raw.waitClosed(5000), true, `tracker ${n} closes after ${what}`);
        await good.check();
      }
    }
    await waitFor(async () => (await pair.tracker(1).status()).connections === baseline, {
      what: "tracker 1 to drop the closed connections",
      intervalMs: 100,
    });
    await assertPairHealthy(pair);
  } finally {
    for (const raw of bad) await raw.close();
    await pair.close();
  }
});

Deno.test("tracker answers a message of unknown type with an error frame and keeps serving that connection", async () => {
  const pair = await TrackerPair.start();
  const raw = await RawClient.connect(pair.endpoints[0], await pair.ca());
  try {
    await raw.send({ t: "bogus", x: 1 });
    const err = await raw.message();
    assert.equal(err.t, "error");
    assert.match(String(err.error), /bogus/);
    // A request without an id or with a bad shape gets a failed response, not a crash.
    await raw.send({ t: "req", cmd: "whoami", args: {} });
    const noId = await raw.message();
    assert.deepEqual([noId.t, noId.ok, noId.id], ["res", false, null]);
    await raw.send({ t: "req", id: "x1", cmd: 42, args: [] });
    const badShape = await raw.message();
    assert.deepEqual([badShape.t, badShape.ok, badShape.id], ["res", false, "x1"]);
    const unknown = await raw.request("no_such_command", {});
    assert.equal(unknown.ok, false);
    assert.match(String(unknown.error), /unknown command/);
    // The same connection still works.
    const res = await raw.request("create_user", { user: "after", password: "pw" });
    assert.deepEqual(res.data, { user: "after" });
    assert.equal(raw.closed, false);
    await assertPairHealthy(pair);
  } finally {
    await raw.close();
    await pair.close();
  }
});

Deno.test("tracker answers a data frame from a client with an error frame", async () => {
  const pair = await TrackerPair.start();
  const raw = await RawClient.connect(pair.endpoints[0], await pair.ca());
  try {
    // A well-formed frame of kind 2 (piece data), which clients never send to a tracker.
    await raw.write(frame(2, new Uint8Array([0, 0, 0, 1, 9, 9, 9])));
    const first = await raw.read(5000);
    assert.ok(
      first.kind === "frame" && first.frame.kind === "json" && first.frame.msg.t === "error",
      `expected an error frame, got ${describe(first)}`,
    );
    await assertPairHealthy(pair);
  } finally {
    await raw.close();
    await pair.close();
  }
});

Deno.test("tracker refuses a forged tracker-link hello without a reply and keeps its real link", async () => {
  const pair = await TrackerPair.start();
  const raw = await RawClient.connect(pair.endpoints[1], await pair.ca());
  try {
    const hello: Message = {
      t: "link_hello",
      n: 1,
      nonce: "00".repeat(16),
      ts: Date.now(),
      mac: "ab".repeat(32),
    };
    await raw.send(hello);
    assert.equal(await raw.waitClosed(5000), true, "the forged link is closed");
    assert.equal((await raw.read(0)).kind, "closed", "not a byte was sent back");
    await assertPairHealthy(pair);
  } finally {
    await raw.close();
    await pair.close();
  }
});

Deno.test("tracker closes a connection stuck in the middle of a frame after the partial-frame timeout", async () => {
  const pair = await TrackerPair.start();
  const clients: RawClient[] = [];
  try {
    const good = await goodClient(pair);
    clients.push(good.raw);
    // Half a frame: the length says 100 bytes, 11 arrive. And half a length prefix.
    const halfBody = await RawClient.connect(pair.endpoints[0], await pair.ca());
    const halfHead = await RawClient.connect(pair.endpoints[0], await pair.ca());
    clients.push(halfBody, halfHead);
    const full = encodeJson({ t: "req", id: "half", cmd: "whoami", args: { pad: "x".repeat(80) } });
    const sent = Date.now();
    await halfBody.write(full.subarray(0, 16));
    await halfHead.write(full.subarray(0, 2));

    // Meanwhile others are served: the logged-in client and brand-new connections.
    let served = 0;
    while (!(halfBody.closed && halfHead.closed) && Date.now() - sent < 15_000) {
      await good.check();
      const fresh = await RawClient.connect(pair.endpoints[0], await pair.ca());
      try {
        const res = await fresh.request("whoami", {});
        assert.equal(res.error, "not logged in");
      } finally {
        await fresh.close();
      }
      served++;
      if (Date.now() - sent < 2000) {
        assert.equal(halfBody.closed || halfHead.closed, false, "a slow frame is not cut at once");
      }
      await delay(200);
    }
    const limit = DEFAULT_PARTIAL_TIMEOUT_MS + 2000;
    assert.equal(await halfBody.waitClosed(limit - (Date.now() - sent)), true, "half a frame");
    assert.equal(await halfHead.waitClosed(limit - (Date.now() - sent)), true, "half a prefix");
    const took = Date.now() - sent;
    assert.ok(took <= limit, `closed after ${took} ms`);
    assert.ok(served >= 10, `others were served while the frames hung (${served} rounds)`);
    await good.check();
    await assertPairHealthy(pair);
  } finally {
    for (const c of clients) await c.close();
    await pair.close();
  }
});
