import assert from "node:assert/strict";
import { FramedConn } from "../../shared/conn.ts";
import { MAX_CONTROL_FRAME } from "../../shared/constants.ts";
import { ConnectionError } from "../../shared/errors.ts";
import type { Message } from "../../shared/frame.ts";
import { type Endpoint, formatEndpoint } from "../../shared/tracker_info.ts";
import { NoTrackerError, TrackerClient } from "./tracker_client.ts";
import { testCa, testIdentity } from "../serve/_test_identities.ts";

/** The fake trackers' CA and certificate (for 127.0.0.1), as a real tracker has them. */
const CA = await testCa();
const TRACKER_CERT = await testIdentity(CA, "tracker 1");

/** What the fake tracker does with a request: answer it, hang up, or stay silent. */
type Reply = Message | "close" | "ignore";

/** A tracker made of shoal's own codec, answering requests with `handle`. */
class FakeTracker {
  readonly received: Message[] = [];
  accepted = 0;
  readonly #listener: Deno.TlsListener;
  readonly #conns = new Set<FramedConn>();
  readonly #tasks: Promise<unknown>[] = [];

  constructor(handle: (req: Message) => Reply | Promise<Reply>) {
    const { cert, key } = TRACKER_CERT;
    this.#listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
    this.#tasks.push(this.#accept(handle));
  }

  get endpoint(): Endpoint {
    return { hostname: "127.0.0.1", port: this.#listener.addr.port };
  }

  async #accept(handle: (req: Message) => Reply | Promise<Reply>): Promise<void> {
    try {
      for await (const raw of this.#listener) {
        const conn = new FramedConn(raw, { maxFrame: MAX_CONTROL_FRAME });
        this.accepted++;
        this.#conns.add(conn);
        this.#tasks.push(this.#serve(conn, handle));
      }
    } catch { /* listener closed */ }
  }

  async #serve(conn: FramedConn, handle: (req: Message) => Reply | Promise<Reply>) {
    for await (const frame of conn.frames()) {
      if (frame.kind !== "json") continue;
      this.received.push(frame.msg);
      // Answer concurrently, as the real tracker may.
      this.#tasks.push((async () => {
        const reply = await handle(frame.msg);
        if (reply === "close") conn.close();
        else if (reply !== "ignore") await conn.send(reply).catch(() => {});
      })());
    }
  }

  async close(): Promise<void> {
    this.#listener.close();
    for (const conn of this.#conns) conn.close();
    while (this.#tasks.length > 0) await this.#tasks.pop();
  }
}

function ok(req: Message, data: Record<string, unknown> = {}): Message {
  return { t: "res", id: req.id, ok: true, data };
}

function notPrimary(req: Message, primary?: Endpoint): Message {
  const hint = primary ? { primary: formatEndpoint(primary) } : {};
  return {
    t: "res",
    id: req.id,
    ok: false,
    error: "not the primary",
    code: "not_primary",
    ...hint,
  };
}

/** An endpoint where nothing listens. */
function deadEndpoint(): Endpoint {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return { hostname: "127.0.0.1", port };
}

Deno.test("request() sends cmd, args, token and a client-unique id, and returns data", async () => {
  const tracker = new FakeTracker((req) => ok(req, { echo: req.args }));
  const client = new TrackerClient({
    ca: CA.certPem,
    trackers: [tracker.endpoint, deadEndpoint()],
  });
  try {
    client.token = "tok123";
    const res = await client.request("whoami", { x: 1 });
    assert.deepEqual(res, { ok: true, data: { echo: { x: 1 } } });
    await client.request("whoami", {});
    const [first, second] = tracker.received;
    assert.equal(first?.cmd, "whoami");
    assert.equal(first?.token, "tok123");
    assert.match(String(first?.id), /^[0-9a-f]{16}-\d+$/);
    assert.notEqual(first?.id, second?.id);
    assert.equal(String(first?.id).split("-")[0], String(second?.id).split("-")[0]);
    assert.equal(tracker.accepted, 1, "the connection is kept open between requests");
  } finally {
    await client.close();
    await tracker.close();
  }
});

Deno.test("request() returns a command error as it is, without retrying", async () => {
  const tracker = new FakeTracker((req) => ({
    t: "res",
    id: req.id,
    ok: false,
    error: "no group g",
  }));
  const client = new TrackerClient({
    ca: CA.certPem,
    trackers: [tracker.endpoint, deadEndpoint()],
  });
  try {
    assert.deepEqual(await client.request("list_files", { group: "g" }), {
      ok: false,
      error: "no group g",
    });
    assert.equal(tracker.received.length, 1);
  } finally {
    await client.close();
    await tracker.close();
  }
});

Deno.test("request() pipelines requests on one connection and matches answers by id", async () => {
  // The tracker answers nothing until both requests are in, then answers in reverse order.
  const waiting: Message[] = [];
  let release!: () => void;
  const bothIn = new Promise<void>((resolve) => release = resolve);
  const tracker = new FakeTracker(async (req) => {
    waiting.push(req);
    if (waiting.length === 2) release();
    await bothIn;
    if (req === waiting[0]) await new Promise((r) => setTimeout(r, 30));
    return ok(req, { n: (req.args as { n: number }).n });
  });
  const client = new TrackerClient({
    ca: CA.certPem,
    trackers: [tracker.endpoint, deadEndpoint()],
    requestTimeoutMs: 1000,
    failoverDeadlineMs: 1000,
  });
  try {
    const [a, b] = await Promise.all([
      client.request("echo", { n: 1 }),
      client.request("echo", { n: 2 }),
    ]);
    assert.deepEqual([a, b], [{ ok: true, data: { n: 1 } }, { ok: true, data: { n: 2 } }]);
    assert.equal(tracker.accepted, 1);
  } finally {
    await client.close();
    await tracker.close();
  }
});

Deno.test("request() follows not_primary to the other tracker with the same id", async () => {
  const second = new FakeTracker((req) => ok(req, { user: "alice" }));
  const first = new FakeTracker((req) => notPrimary(req, second.endpoint));
  const client = new TrackerClient({ ca: CA.certPem, trackers: [first.endpoint, second.endpoint] });
  try {
    assert.deepEqual(await client.request("login", {}), { ok: true, data: { user: "alice" } });
    assert.equal(first.received.length, 1);
    assert.equal(second.received.length, 1);
    assert.equal(second.received[0]?.id, first.received[0]?.id);
    assert.equal(client.current, 1);
    await client.request("whoami", {});
    assert.equal(first.received.length, 1, "later requests go straight to the primary");
  } finally {
    await client.close();
    await first.close();
    await second.close();
  }
});

Deno.test("request() survives the first tracker hanging up mid-request", async () => {
  const first = new FakeTracker(() => "close");
  const second = new FakeTracker((req) => ok(req, { group: "g1" }));
  const client = new TrackerClient({ ca: CA.certPem, trackers: [first.endpoint, second.endpoint] });
  try {
    assert.deepEqual(await client.request("create_group", { group: "g1" }), {
      ok: true,
      data: { group: "g1" },
    });
    assert.equal(first.received.length, 1);
    assert.equal(second.received[0]?.id, first.received[0]?.id);
  } finally {
    await client.close();
    await first.close();
    await second.close();
  }
});

Deno.test("request() fails over when the tracker does not answer in time", async () => {
  const first = new FakeTracker(() => "ignore");
  const second = new FakeTracker((req) => ok(req));
  const client = new TrackerClient({
    ca: CA.certPem,
    trackers: [first.endpoint, second.endpoint],
    requestTimeoutMs: 150,
  });
  try {
    assert.deepEqual(await client.request("whoami", {}), { ok: true, data: {} });
    assert.equal(second.received[0]?.id, first.received[0]?.id);
  } finally {
    await client.close();
    await first.close();
    await second.close();
  }
});

Deno.test("request() retries an unavailable tracker until it answers", async () => {
  let calls = 0;
  const first = new FakeTracker((req) =>
    ++calls === 1
      ? { t: "res", id: req.id, ok: false, error: "busy", code: "unavailable" }
      : ok(req)
  );
  const second = new FakeTracker((req) => notPrimary(req));
  const client = new TrackerClient({ ca: CA.certPem, trackers: [first.endpoint, second.endpoint] });
  try {
    assert.deepEqual(await client.request("list_groups", {}), { ok: true, data: {} });
    const ids = [...first.received, ...second.received].map((m) => m.id);
    assert.equal(ids.length, 3);
    assert.equal(new Set(ids).size, 1);
  } finally {
    await client.close();
    await first.close();
    await second.close();
  }
});

Deno.test("request() throws NoTrackerError after the deadline when both trackers are down", async () => {
  const a = deadEndpoint();
  const b = deadEndpoint();
  const client = new TrackerClient({ ca: CA.certPem, trackers: [a, b], failoverDeadlineMs: 300 });
  try {
    const start = Date.now();
    await assert.rejects(client.request("whoami", {}), (err: Error) => {
      assert.ok(err instanceof NoTrackerError);
      assert.equal(
        err.message,
        `no tracker reachable (tried ${formatEndpoint(a)} and ${formatEndpoint(b)})`,
      );
      return true;
    });
    const elapsed = Date.now() - start;
    assert.ok(elapsed >= 280 && elapsed < 2000, `gave up after ${elapsed} ms`);
  } finally {
    await client.close();
  }
});

Deno.test("close() fails pending requests and releases every resource", async () => {
  const tracker = new FakeTracker(() => "ignore");
  const client = new TrackerClient({
    ca: CA.certPem,
    trackers: [tracker.endpoint, deadEndpoint()],
  });
  const pending = client.request("whoami", {});
  while (tracker.received.length === 0) await new Promise((r) => setTimeout(r, 5));
  await client.close();
  await assert.rejects(pending, ConnectionError);
  await assert.rejects(client.request("whoami", {}), ConnectionError);
  await tracker.close();
});

Deno.test("request() ignores a malformed answer and fails over as if none came", async () => {
  const first = new FakeTracker((req) => ({ t: "res", id: req.id, ok: true, data: [1] }));
  const second = new FakeTracker((req) => ok(req, { user: "alice" }));
  const client = new TrackerClient({
    ca: CA.certPem,
    trackers: [first.endpoint, second.endpoint],
    requestTimeoutMs: 150,
  });
  try {
    assert.deepEqual(await client.request("whoami", {}), { ok: true, data: { user: "alice" } });
    assert.equal(second.received[0]?.id, first.received[0]?.id);
  } finally {
    await client.close();
    await first.close();
    await second.close();
  }
});
