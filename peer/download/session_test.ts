/**
 * The download session, driven by tables of events (no sockets, workers or
 * timers): each step is one event in and the actions expected out.
 */
import assert from "node:assert/strict";
import { encodeBase64 } from "../../shared/base64.ts";
import { emptyBitfield, setBit } from "../../shared/bitfield.ts";
import { parseEndpoint } from "../../shared/tracker_info.ts";
import { CHOKE_RETRY_MS, ENDGAME_REQUESTS, SOURCE_STALL_MS } from "./request_planner.ts";
import { DownloadSession, PARTIAL_REFRESH_MS, REFRESH_INTERVAL_MS } from "./session.ts";
import type { SessionAction, SessionEvent } from "./session_events.ts";
import {
  BACKOFF_BASE_MS,
  BACKOFF_MAX_MS,
  IN_FLIGHT_BUDGET,
  MAX_CONNECTIONS,
  MAX_IDLE_SLOTS,
  MIN_DEPTH,
  Sources,
} from "./sources.ts";
import type { LookupResult } from "./tracker_answers.ts";

const PS = 512 * 1024;
const SHA1 = "cd".repeat(20);
const A = "127.0.0.1:9001";
const B = "127.0.0.1:9002";
const C = "127.0.0.1:9003";

/** The trackers' answer listing `addrs`, each with the whole file. */
function listing(...addrs: string[]): LookupResult {
  return { peers: addrs.map((addr) => ({ user: addr, addr, have: "all" })), grant: {} };
}

/** The trackers' answer listing `addr` with only `pieces` of a file of `n` pieces. */
function partialListing(addr: string, n: number, ...pieces: number[]): LookupResult {
  const have = emptyBitfield(n);
  for (const p of pieces) setBit(have, p);
  return { peers: [{ user: addr, addr, have: encodeBase64(have) }], grant: {} };
}

/** `count` peer addresses, from port 9001 up. */
const addrs = (count: number) => Array.from({ length: count }, (_, i) => `127.0.0.1:${9001 + i}`);

/** Events, with the time first. */
const ev = {
  start: (now: number, lookup?: LookupResult): SessionEvent => ({ type: "start", now, lookup }),
  sources: (now: number, ...addrs: string[]): SessionEvent => ({
    type: "sources",
    now,
    lookup: listing(...addrs),
  }),
  opened: (now: number, conn: number): SessionEvent => ({ type: "opened", now, conn, have: "all" }),
  verified: (now: number, conn: number, piece: number): SessionEvent => ({
    type: "verified",
    now,
    conn,
    piece,
    bytes: PS,
  }),
  bad: (now: number, conn: number, piece: number): SessionEvent => ({
    type: "bad",
    now,
    conn,
    piece,
  }),
  closed: (now: number, conn: number): SessionEvent => ({
    type: "closed",
    now,
    conn,
    error: "gone",
  }),
  pieceRefused: (now: number, conn: number, piece: number): SessionEvent => ({
    type: "refused",
    now,
    conn,
    piece,
  }),
  tick: (now: number): SessionEvent => ({ type: "tick", now }),
  refused: (now: number, error: string): SessionEvent => ({
    type: "lookupFailed",
    now,
    error,
    refused: true,
  }),
  halt: (now: number, how: "pause" | "stop"): SessionEvent => ({ type: "halt", now, how }),
};

/** Actions. */
const act = {
  connect: (conn: number, addr: string): SessionAction => ({
    type: "connect",
    conn,
    addr: parseEndpoint(addr),
    grant: {},
  }),
  requests: (conn: number, ...pieces: number[]): SessionAction[] =>
    pieces.map((piece) => ({ type: "request", conn, piece })),
  close: (conn: number): SessionAction => ({ type: "close", conn }),
  record: (piece: number): SessionAction => ({ type: "record", piece }),
  report: (...pieces: number[]): SessionAction => ({ type: "report", pieces }),
  prefix: (pieces: number, bytes = pieces * PS): SessionAction => ({
    type: "hashPrefix",
    pieces,
    bytes,
  }),
  lookup: { type: "lookup" } as SessionAction,
  cancelHash: { type: "cancelHash" } as SessionAction,
  verifyWhole: { type: "verifyWhole" } as SessionAction,
  fail: (error: string): SessionAction => ({ type: "fail", error }),
};

/** Exactly these actions, or a check of them and of the session after the event. */
type Expect = SessionAction[] | ((out: SessionAction[], s: DownloadSession) => void);

interface Case {
  name: string;
  /** Pieces in the file. */
  n: number;
  /** Pieces verified before the session starts. */
  have?: number[];
  pieceSize?: number;
  steps: [SessionEvent, Expect?][];
}

function newSession(c: Case): DownloadSession {
  const have = emptyBitfield(c.n);
  for (const p of c.have ?? []) setBit(have, p);
  const pieceSize = c.pieceSize ?? PS;
  return new DownloadSession(
    {
      name: "f.bin",
      size: c.n * pieceSize,
      pieceSize,
      sha1: SHA1,
      have,
      partPath: "/d/f.bin.part",
    },
    // The first of equally rare pieces: requests go in file order.
    { random: () => 0.999 },
  );
}

function run(c: Case): void {
  const s = newSession(c);
  for (const [i, [event, expect]] of c.steps.entries()) {
    const out = s.handle(event);
    const at = `step ${i} (${event.type} at ${event.now})`;
    if (expect === undefined) continue;
    if (typeof expect === "function") expect(out, s);
    else assert.deepEqual(out, expect, at);
  }
}

const closes = (out: SessionAction[]) => out.filter((a) => a.type === "close");
const requested = (out: SessionAction[], conn: number) =>
  out.filter((a) => a.type === "request" && a.conn === conn).length;

const CASES: Case[] = [
  {
    name:
      "end-game: the last pieces are asked of a second peer too, duplicates are not recorded, and completion closes the connections that still wait for them",
    n: 3,
    steps: [
      [ev.start(0, listing(A, B)), [act.connect(1, A), act.connect(2, B)]],
      [ev.opened(1, 1), act.requests(1, 0, 1, 2)],
      // Every missing piece is in flight from A: B is asked for them again.
      [ev.opened(2, 2), act.requests(2, 0, 1, 2)],
      [ev.verified(3, 1, 0), [act.record(0), act.prefix(1)]],
      [ev.verified(4, 2, 0), (out, s) => {
        assert.deepEqual(out, []);
        assert.equal(s.duplicates, 1);
      }],
      [ev.verified(5, 2, 1), [act.record(1), act.prefix(2)]],
      [ev.verified(6, 1, 2), (out, s) => {
        assert.deepEqual(out, [
          act.record(2),
          act.prefix(3),
          act.close(1),
          act.close(2),
          act.report(0, 1, 2),
          act.verifyWhole,
        ]);
        assert.equal(s.status, "V");
        assert.equal(s.wakeAt, Infinity);
      }],
      // The cancelled duplicate arriving after all changes nothing.
      [ev.verified(7, 2, 2), []],
      [{ type: "wholeHashed", now: 8, sha1: SHA1 }, [{ type: "rename" }]],
      [{ type: "renamed", now: 9 }, (out, s) => {
        assert.deepEqual(out, [{ type: "complete" }]);
        assert.equal(s.status, "C");
      }],
    ],
  },
  {
    name:
      "a peer that sends two bad pieces is banned: its connection closes and no lookup brings it back",
    n: 4,
    steps: [
      [ev.start(0, listing(A, B)), [act.connect(1, A), act.connect(2, B)]],
      [ev.opened(1, 1), act.requests(1, 0, 1, 2, 3)],
      [ev.bad(2, 1, 0), act.requests(1, 0)],
      [ev.bad(3, 1, 1), [act.close(1)]],
      [ev.closed(4, 1), []],
      // Every piece goes to B, none back to A.
      [ev.opened(5, 2), act.requests(2, 0, 1, 2, 3)],
      [ev.sources(6, A), []],
      [ev.tick(1000), []],
    ],
  },
  {
    name:
      "a failing source is retried with a backoff that doubles, and a delivered piece resets it",
    n: 4,
    steps: [
      [ev.start(0, listing(A)), [act.connect(1, A), act.connect(2, A)]],
      [ev.closed(10, 1), (out, s) => {
        assert.deepEqual(out, []);
        assert.equal(s.wakeAt, 10 + 2 * BACKOFF_BASE_MS);
      }],
      [ev.tick(509), []],
      [ev.tick(510), [act.connect(3, A)]],
      [ev.closed(600, 3), (out, s) => {
        assert.deepEqual(out, []);
        assert.equal(s.wakeAt, 1000, "the next check comes before the retry at 1600");
      }],
      [ev.tick(1000), (out, s) => {
        assert.deepEqual(out, []);
        assert.equal(s.wakeAt, 600 + 4 * BACKOFF_BASE_MS);
      }],
      [ev.tick(1600), [act.connect(4, A)]],
      [ev.opened(1700, 4), act.requests(4, 0, 1, 2, 3)],
      [ev.verified(1800, 4, 0), [act.record(0), act.prefix(1)]],
      [ev.closed(1900, 4), (out, s) => {
        assert.deepEqual(out, []);
        assert.equal(s.wakeAt, 2000, "the report of piece 0 and the check are due at 2000");
      }],
      [ev.tick(2000), [act.report(0), act.lookup]],
      [ev.tick(2399), []],
      [ev.tick(2400), [act.connect(5, A)]],
    ],
  },
  {
    name:
      "with its only source gone the download is stalled with the reason; when the trackers list it again it is tried at once",
    n: 24,
    have: [0, 1, 2, 3, 4, 5],
    steps: [
      [ev.start(0, listing(A)), [act.prefix(6), act.connect(1, A), act.connect(2, A)]],
      [ev.opened(10, 1), (out, s) => {
        assert.deepEqual(out, act.requests(1, 6, 7, 8, 9, 10, 11, 12, 13));
        assert.equal(s.stalled, null);
      }],
      // The trackers no longer list A, but its connection is still open.
      [ev.sources(1000), (out, s) => {
        assert.deepEqual(out, []);
        assert.equal(s.stalled, null);
      }],
      [ev.closed(1100, 1), (out, s) => {
        assert.deepEqual(out, []);
        assert.equal(s.stalled, "no online peer has 18 of 24 pieces");
      }],
      [ev.closed(1200, 2), (out, s) => {
        assert.deepEqual(out, []);
        assert.equal(s.wakeAt, 1000, "an unlisted source is not retried: only the check is due");
      }],
      [ev.tick(1000), []],
      // Listed again before its backoff (until 1600 and 1700) has run out.
      [ev.sources(1300, A), (out, s) => {
        assert.deepEqual(out, [act.connect(3, A), act.connect(4, A)], "no backoff");
        assert.equal(s.stalled, null);
      }],
      [ev.opened(1400, 3), act.requests(3, 6, 7, 8, 9, 10, 11, 12, 13)],
    ],
  },
  {
    name:
      "a download resumes from its verified pieces: the hash follows their prefix and only the rest is asked for",
    n: 6,
    have: [0, 1, 3, 5],
    steps: [
      [ev.start(0, listing(A)), [act.prefix(2), act.connect(1, A), act.connect(2, A)]],
      [ev.opened(1, 1), act.requests(1, 2, 4)],
      [ev.verified(2, 1, 4), [act.record(4)]],
      [ev.verified(3, 1, 2), (out) => {
        assert.deepEqual(out.slice(0, 2), [act.record(2), act.prefix(6)]);
        assert.equal(out.at(-1)?.type, "verifyWhole");
      }],
    ],
  },
  {
    name: "a download whose pieces are all verified goes straight to the whole-file hash",
    n: 3,
    have: [0, 1, 2],
    steps: [
      [ev.start(0), (out, s) => {
        assert.deepEqual(out, [act.prefix(3), act.verifyWhole]);
        assert.equal(s.status, "V");
      }],
    ],
  },
  {
    name: "the whole-file hash follows only the contiguous verified prefix",
    n: 4,
    steps: [
      [ev.start(0, listing(A)), [act.connect(1, A), act.connect(2, A)]],
      [ev.opened(1, 1), act.requests(1, 0, 1, 2, 3)],
      [ev.verified(2, 1, 1), [act.record(1)]],
      [ev.verified(3, 1, 0), [act.record(0), act.prefix(2)]],
      [ev.verified(4, 1, 3), [act.record(3)]],
      [ev.verified(5, 1, 2), [
        act.record(2),
        act.prefix(4),
        act.close(1),
        act.close(2),
        act.report(1, 0, 3, 2),
        act.verifyWhole,
      ]],
    ],
  },
  {
    name: "verified pieces are reported in batches, at most every 500 ms",
    n: 8,
    steps: [
      [ev.start(0, listing(A)), [act.connect(1, A), act.connect(2, A)]],
      [ev.opened(0, 1), act.requests(1, 0, 1, 2, 3, 4, 5, 6, 7)],
      [ev.verified(100, 1, 0), (_, s) => assert.equal(s.wakeAt, 500)],
      [ev.verified(200, 1, 1)],
      [ev.tick(500), [act.report(0, 1)]],
      [ev.verified(600, 1, 2), (_, s) => assert.equal(s.wakeAt, 1000)],
      [ev.tick(1000), [act.report(2)]],
    ],
  },
  {
    name: "a listed source that delivers nothing for 5 s is dropped, and its pieces go elsewhere",
    n: 4,
    steps: [
      [ev.start(0, listing(A, B)), [act.connect(1, A), act.connect(2, B)]],
      [ev.opened(0, 1), act.requests(1, 0, 1, 2, 3)],
      [ev.tick(1000), []],
      [ev.tick(2000), [act.lookup]],
      [ev.sources(2010, A, B), []],
      [ev.tick(4999), [act.lookup]],
      [ev.tick(5000), [act.close(1)]],
      [ev.closed(5001, 1), []],
      [ev.opened(5002, 2), act.requests(2, 0, 1, 2, 3)],
    ],
  },
  {
    name: "the stall limit grows with the piece size",
    n: 2,
    pieceSize: 2 * PS,
    steps: [
      [ev.start(0, listing(A)), [act.connect(1, A), act.connect(2, A)]],
      [ev.opened(0, 1), act.requests(1, 0, 1)],
      [ev.tick(5000), (out) => assert.deepEqual(closes(out), [])],
      [ev.tick(9000), (out) => assert.deepEqual(closes(out), [])],
      [ev.tick(10_000), (out) => assert.deepEqual(closes(out), [act.close(1)])],
    ],
  },
  {
    name: "a source the trackers no longer list is dropped after 1 s without data",
    n: 4,
    steps: [
      [ev.start(0, listing(A)), [act.connect(1, A), act.connect(2, A)]],
      [ev.opened(0, 1), act.requests(1, 0, 1, 2, 3)],
      [ev.sources(500, B), [act.connect(3, B), act.connect(4, B)]],
      [ev.tick(1000), [act.close(1)]],
    ],
  },
  {
    name: "a refusal of the lookup ends the download only the second time in a row",
    n: 41,
    have: [0],
    steps: [
      [ev.start(0), (out, s) => {
        assert.deepEqual(out, [act.prefix(1), act.lookup]);
        assert.equal(s.stalled, null, "nothing is known before the first answer");
      }],
      [ev.sources(10), (_, s) => assert.equal(s.stalled, "no online peer has 40 of 41 pieces")],
      [ev.refused(2000, "no file f.bin in group g1"), (out, s) => {
        assert.deepEqual(out, []);
        assert.equal(s.status, "D");
      }],
      // An answer in between starts the count again.
      [ev.sources(3000)],
      [ev.refused(4000, "no file f.bin in group g1"), []],
      [ev.refused(6000, "no file f.bin in group g1"), (out, s) => {
        assert.deepEqual(out, [act.cancelHash, act.fail("no file f.bin in group g1")]);
        assert.equal(s.status, "F");
        assert.equal(s.error, "no file f.bin in group g1");
        assert.equal(s.wakeAt, Infinity);
      }],
    ],
  },
  {
    name: "other lookup failures never end the download",
    n: 4,
    steps: [
      [ev.start(0), [act.lookup]],
      [ev.refused(1, "not logged in"), []],
      [ev.refused(2, "not logged in"), []],
      [{ type: "lookupFailed", now: 3, error: "no tracker answered", refused: false }, []],
      [ev.refused(4, "no file f.bin in group g1"), []],
      [{ type: "lookupFailed", now: 5, error: "no tracker answered", refused: false }, []],
      [ev.tick(2000), (out, s) => {
        assert.deepEqual(out, [act.lookup]);
        assert.equal(s.status, "D");
      }],
    ],
  },
  {
    name:
      "a paused download plans nothing more: the closed events of its connections, ticks and answers are ignored",
    n: 8,
    steps: [
      [ev.start(0, listing(A)), [act.connect(1, A), act.connect(2, A)]],
      [ev.opened(1, 1), act.requests(1, 0, 1, 2, 3, 4, 5, 6, 7)],
      [ev.verified(2, 1, 0), [act.record(0), act.prefix(1)]],
      [ev.halt(3, "pause"), (out, s) => {
        assert.deepEqual(out, [act.cancelHash, act.close(1), act.close(2), act.report(0)]);
        assert.equal(s.wakeAt, Infinity);
      }],
      [ev.closed(4, 1), []],
      [ev.closed(5, 2), []],
      [ev.tick(1000), []],
      [ev.sources(1001, A), []],
      [ev.verified(1002, 1, 1), []],
    ],
  },
  {
    name:
      "a stop during the final hash does not fail the download, but a hash that answers still completes it",
    n: 1,
    have: [0],
    steps: [
      [ev.start(0), [act.prefix(1), act.verifyWhole]],
      [ev.halt(1, "stop"), []],
      [{ type: "finishFailed", now: 2, error: "Verification stopped" }, (out, s) => {
        assert.deepEqual(out, []);
        assert.equal(s.status, "V");
      }],
      [{ type: "wholeHashed", now: 3, sha1: SHA1 }, [{ type: "rename" }]],
    ],
  },
  {
    name: "a whole-file SHA-1 that does not match fails the download",
    n: 1,
    have: [0],
    steps: [
      [ev.start(0), [act.prefix(1), act.verifyWhole]],
      [{ type: "wholeHashed", now: 1, sha1: "0".repeat(40) }, (out, s) => {
        assert.deepEqual(out, [act.fail("whole-file SHA-1 mismatch (got 000000000000…)")]);
        assert.equal(s.status, "F");
      }],
    ],
  },
  {
    name: "a piece that cannot be written fails the download",
    n: 4,
    steps: [
      [ev.start(0, listing(A)), [act.connect(1, A), act.connect(2, A)]],
      [ev.opened(1, 1)],
      [
        { type: "writeFailed", now: 2, conn: 1, piece: 0, error: "disk full" },
        [
          act.cancelHash,
          act.close(1),
          act.close(2),
          act.fail("cannot write /d/f.bin.part: disk full"),
        ],
      ],
    ],
  },
  {
    name: "16 requests in flight over all connections: 5 each to three seeders",
    n: 64,
    steps: [
      [ev.start(0, listing(A, B, C)), [act.connect(1, A), act.connect(2, B), act.connect(3, C)]],
      [ev.opened(1, 1), (out) => assert.equal(requested(out, 1), 5)],
      [ev.opened(1, 2), (out) => assert.equal(requested(out, 2), 5)],
      [ev.opened(1, 3), (out) => assert.equal(requested(out, 3), 5)],
    ],
  },
  {
    name:
      "a stalled connection is closed once: the ticks before its closed event close it no second time",
    n: 4,
    steps: [
      [ev.start(0), [act.lookup]],
      [ev.sources(0, A, B), [act.connect(1, A), act.connect(2, B)]],
      [ev.opened(0, 1), act.requests(1, 0, 1, 2, 3)],
      [ev.tick(SOURCE_STALL_MS), (out) => assert.deepEqual(closes(out), [act.close(1)])],
      // Until a second stall limit has passed: the close is still under way.
      ...Array.from(
        { length: SOURCE_STALL_MS / PARTIAL_REFRESH_MS - 1 },
        (_, k): [SessionEvent, Expect] => [
          ev.tick(SOURCE_STALL_MS + (k + 1) * PARTIAL_REFRESH_MS),
          (out) => assert.deepEqual(closes(out), []),
        ],
      ),
      [ev.closed(2 * SOURCE_STALL_MS - 1, 1), []],
      [ev.opened(2 * SOURCE_STALL_MS, 2), act.requests(2, 0, 1, 2, 3)],
    ],
  },
  {
    name: "while a listed peer has only part of the file, it is looked up every PARTIAL_REFRESH_MS",
    n: 4,
    steps: [
      [ev.start(0), [act.lookup]],
      [
        { type: "sources", now: 10, lookup: partialListing(A, 4, 0, 1) },
        [act.connect(1, A), act.connect(2, A)],
      ],
      [ev.tick(PARTIAL_REFRESH_MS), [act.lookup]],
      [ev.tick(2 * PARTIAL_REFRESH_MS), [act.lookup]],
      [ev.tick(3 * PARTIAL_REFRESH_MS), [act.lookup]],
    ],
  },
  {
    name: "with only full sources, the lookup comes every REFRESH_INTERVAL_MS",
    n: 4,
    steps: [
      [ev.start(0), [act.lookup]],
      [ev.sources(10, A), [act.connect(1, A), act.connect(2, A)]],
      ...Array.from(
        { length: (2 * REFRESH_INTERVAL_MS) / PARTIAL_REFRESH_MS },
        (_, k): [SessionEvent, Expect] => {
          const now = (k + 1) * PARTIAL_REFRESH_MS;
          return [ev.tick(now), now % REFRESH_INTERVAL_MS === 0 ? [act.lookup] : []];
        },
      ),
    ],
  },
  {
    name:
      "a piece a peer refused is not asked of it again while it is in flight elsewhere, until that peer reconnects",
    n: 2,
    steps: [
      [ev.start(0, listing(A, B)), [act.connect(1, A), act.connect(2, B)]],
      [ev.opened(1, 1), act.requests(1, 0, 1)],
      // End-game: B is asked for both pieces too.
      [ev.opened(1, 2), act.requests(2, 0, 1)],
      [ev.pieceRefused(2, 1, 0), []],
      [ev.closed(3, 1), []],
      [ev.tick(3 + 2 * BACKOFF_BASE_MS), (out) => {
        assert.deepEqual(out.filter((a) => a.type === "connect"), [act.connect(3, A)]);
      }],
      // A new connection forgets the refusal: piece 0 (still in flight from B) is asked of A again.
      [ev.opened(4 + 2 * BACKOFF_BASE_MS, 3), act.requests(3, 0, 1)],
    ],
  },
  (() => {
    // Enough seeders that the budget's share per connection falls below MIN_DEPTH.
    const seeders = addrs(Math.floor(IN_FLIGHT_BUDGET / MIN_DEPTH) + 1);
    assert.ok(Math.floor(IN_FLIGHT_BUDGET / seeders.length) < MIN_DEPTH);
    return {
      name:
        `${seeders.length} seeders share the in-flight budget of ${IN_FLIGHT_BUDGET}, but each still gets ${MIN_DEPTH} requests`,
      n: 4 * seeders.length * MIN_DEPTH,
      steps: [
        [ev.start(0, listing(...seeders)), (out: SessionAction[]) => {
          assert.deepEqual(out, seeders.map((addr, i) => act.connect(i + 1, addr)));
        }],
        ...seeders.map((_, i): [SessionEvent, Expect] => [
          ev.opened(1, i + 1),
          (out) => assert.equal(requested(out, i + 1), MIN_DEPTH),
        ]),
      ],
    } satisfies Case;
  })(),
];

for (const c of CASES) Deno.test(`DownloadSession: ${c.name}`, () => run(c));

Deno.test("DownloadSession: the backoff of a failing source doubles up to 30 s", () => {
  const s = newSession({ name: "", n: 4, steps: [] });
  s.handle(ev.start(0, listing(A)));
  let now = 0;
  let conn = 1;
  for (let failures = 1; failures <= 12; failures++) {
    s.handle(ev.closed(now, conn));
    const wait = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** failures);
    // The retry is due then, or a periodic check comes first.
    assert.ok(s.wakeAt <= now + wait, `after ${failures} failures`);
    // Neither a tick nor a lookup's answer just before then retries it.
    for (const early of [ev.tick(now + wait - 1), ev.sources(now + wait - 1, A)]) {
      const out = s.handle(early);
      assert.ok(!out.some((a) => a.type === "connect"), `no retry before ${wait} ms`);
    }
    const out = s.handle(ev.tick(now + wait));
    const reconnect = out.find((a) => a.type === "connect");
    assert.ok(reconnect?.type === "connect", `reconnects ${wait} ms after ${failures} failures`);
    assert.equal(s.handle(ev.tick(now + wait)).length, 0);
    now += wait;
    conn = reconnect.conn;
  }
});

Deno.test("DownloadSession: alone with seeders it asks near the front of the file; in a crowd (a partial peer listed) it spreads its asks over the whole file", () => {
  const n = 400;
  const firstAsks = (lookup: LookupResult): number[] => {
    // random() = 0: every equally rare piece replaces the pick, so the last one allowed wins.
    const have = emptyBitfield(n);
    const s = new DownloadSession(
      { name: "f.bin", size: n * PS, pieceSize: PS, sha1: SHA1, have, partPath: "/d/f.bin.part" },
      { random: () => 0 },
    );
    const out = s.handle(ev.start(0, lookup));
    const seeder = out.find((a) => a.type === "connect" && a.addr.port === parseEndpoint(A).port);
    assert.ok(seeder?.type === "connect");
    return s.handle(ev.opened(1, seeder.conn)).flatMap((a) =>
      a.type === "request" && a.conn === seeder.conn ? [a.piece] : []
    );
  };
  const alone = firstAsks(listing(A));
  assert.ok(alone.length > 0 && alone.every((p) => p < 100), `alone: ${alone}`);
  const partial = partialListing(B, n, 0);
  const crowd = firstAsks({ peers: [...listing(A).peers, ...partial.peers], grant: {} });
  assert.ok(crowd.length > 0 && crowd.every((p) => p >= 300), `in a crowd: ${crowd}`);
});

Deno.test("DownloadSession: a peer that refuses as choked is not asked again until its retry time, then one piece at a time until it sends one; its pieces go elsewhere", () => {
  const s = newSession({ name: "", n: 2, steps: [] });
  assert.deepEqual(s.handle(ev.start(0, listing(A, B))), [act.connect(1, A), act.connect(2, B)]);
  assert.deepEqual(s.handle(ev.opened(1, 1)), act.requests(1, 0, 1));
  const choked = (now: number, piece: number): SessionEvent => ({
    type: "refused",
    now,
    conn: 1,
    piece,
    choked: true,
  });
  assert.deepEqual(s.handle(choked(5, 0)), []);
  assert.deepEqual(s.handle(choked(6, 1)), []);
  // B opens: it gets both pieces; A is not asked again though nothing is in flight from it.
  assert.deepEqual(s.handle(ev.opened(7, 2)), act.requests(2, 0, 1));
  // random() = 0.999: A is asked again about 1.5 × CHOKE_RETRY_MS after its last refusal.
  const retryAt = 6 + CHOKE_RETRY_MS * 1.499;
  assert.ok(s.wakeAt <= retryAt, `wakes at ${s.wakeAt}`);
  assert.equal(requested(s.handle(ev.tick(retryAt - 1)), 1), 0);
  // Then one piece, still in flight from B, is asked of A as a probe (end-game, two peers each),
  // not a pipeline that would all come back refused.
  assert.deepEqual(s.handle(ev.tick(retryAt)), act.requests(1, 0));
  // A sends it: A is no longer choked, and the other piece is asked of it too.
  assert.equal(requested(s.handle(ev.verified(retryAt + 1, 1, 0)), 1), 1);
  // A plain refusal (the peer lacks the piece) is for good on that connection.
  assert.deepEqual(s.handle(ev.pieceRefused(retryAt + 2, 1, 1)), []);
  assert.equal(requested(s.handle(ev.tick(retryAt + 5000)), 1), 0);
});

Deno.test("DownloadSession: in end-game a piece is asked of at most ENDGAME_REQUESTS peers", () => {
  const peers = addrs(5);
  const s = newSession({ name: "", n: 1, steps: [] });
  const out = s.handle(ev.start(0, listing(...peers)));
  let asks = 0;
  for (const a of out) {
    if (a.type === "connect") asks += requested(s.handle(ev.opened(1, a.conn)), a.conn);
  }
  assert.equal(asks, ENDGAME_REQUESTS);
});

Deno.test("DownloadSession: of 100 listed peers it connects to MAX_CONNECTIONS, a random choice, and replaces one that closes", () => {
  const peers = addrs(100);
  const s = newSession({ name: "", n: 64, steps: [] });
  const out = s.handle(ev.start(0, listing(...peers)));
  const connects = out.flatMap((a) => a.type === "connect" ? [a] : []);
  assert.equal(connects.length, MAX_CONNECTIONS);
  const ports = new Set(connects.map((a) => a.addr.port));
  assert.equal(ports.size, MAX_CONNECTIONS, "one connection per peer");
  // Not simply the first 40 of the answer: every member of a crowd gets the same answer.
  assert.ok([...ports].some((p) => p >= 9001 + MAX_CONNECTIONS), `ports ${[...ports]}`);
  const more = s.handle(ev.closed(5, connects[0]!.conn)).flatMap((a) =>
    a.type === "connect" ? [a.addr.port] : []
  );
  assert.equal(more.length, 1);
  assert.ok(!ports.has(more[0]!), "another peer, not the one in backoff");
});

Deno.test("DownloadSession: at MAX_CONNECTIONS with other peers listed, a peer that has nothing it lacks is closed", () => {
  const n = 2;
  const only0 = emptyBitfield(n);
  setBit(only0, 0);
  const have0 = encodeBase64(only0);
  const peers = addrs(60);
  const lookup: LookupResult = {
    peers: peers.map((addr) => ({ user: addr, addr, have: have0 })),
    grant: {},
  };
  const s = newSession({ name: "", n, have: [0], steps: [] });
  const conns = s.handle(ev.start(0, lookup)).flatMap((a) => a.type === "connect" ? [a.conn] : []);
  assert.equal(conns.length, MAX_CONNECTIONS);
  for (const conn of conns) {
    assert.deepEqual(s.handle({ type: "opened", now: 1, conn, have: have0 }), []);
  }
  // At the next check every one of them is closed, to make room for the 20 not tried yet.
  const out = s.handle(ev.tick(PARTIAL_REFRESH_MS));
  const closed = out.flatMap((a) => a.type === "close" ? [a.conn] : []);
  assert.deepEqual(closed.sort((a, b) => a - b), [...conns].sort((a, b) => a - b));
  const next = s.handle(ev.closed(PARTIAL_REFRESH_MS + 1, conns[0]!));
  assert.equal(next.filter((a) => a.type === "connect").length, 1);
});

Deno.test("Sources: lookups that each name 50 new peers of a swarm of thousands do not grow its slots without end", () => {
  const sources = new Sources(8);
  for (let round = 0; round < 100; round++) {
    const peers = Array.from({ length: 50 }, (_, i) => {
      const addr = `10.0.${round}.${i}:6001`;
      return { user: addr, addr, have: "all" };
    });
    sources.merge(peers);
    assert.ok(sources.slots.size <= MAX_IDLE_SLOTS + 50, `${sources.slots.size} slots`);
  }
});
