import assert from "node:assert/strict";
import fc from "fast-check";
import { FramedConn } from "../../shared/conn.ts";
import { MAX_CONTROL_FRAME } from "../../shared/constants.ts";
import type { Message } from "../../shared/frame.ts";
import type { Endpoint } from "../../shared/tracker_info.ts";
import { SessionStore } from "../store/session_store.ts";
import { PROMPT, runShell } from "./shell.ts";
import { humanSize } from "../commands/format.ts";
import { TrackerClient, type TrackerResult } from "../tracker_client/tracker_client.ts";
import { testCa, testIdentity } from "../serve/_test_identities.ts";

type Args = Record<string, string>;

const SHA1 = "ab".repeat(20);
/** The mini tracker's CA and certificate, for TLS as with a real tracker. */
const CA = await testCa();
const TRACKER_CERT = await testIdentity(CA, "tracker 1");
/** What the mini tracker certifies at login (the identity below takes it as it is). */
const CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
/** A peer identity that takes whatever certificate it is given. */
const IDENTITY = {
  pubkey: "a2V5",
  take: () => Promise.resolve(),
  renew: () => Promise.resolve(),
  drop: () => {},
};
const FILE = { name: "movie.mkv", size: 3 * 1024 ** 3, sha1: SHA1, seeders: 2, partial: 1 };

/** A tiny in-memory tracker: just enough of the command set to drive the shell. */
class MiniTracker {
  users = new Map<string, string>();
  sessions = new Map<string, string>();
  groups = new Map<string, { owner: string; members: string[]; pending: string[] }>();
  #next = 0;

  answer(cmd: string, a: Args, token: string | undefined): TrackerResult {
    const fail = (error: string): TrackerResult => ({ ok: false, error });
    if (cmd === "create_user") {
      if (this.users.has(a.user!)) return fail(`user ${a.user} already exists`);
      this.users.set(a.user!, a.password!);
      return { ok: true, data: { user: a.user } };
    }
    if (cmd === "login") {
      if (this.users.get(a.user!) !== a.password) return fail(`wrong password for ${a.user}`);
      const token = `tok-${++this.#next}`;
      this.sessions.set(token, a.user!);
      return { ok: true, data: { user: a.user, token, cert: CERT } };
    }
    const me = this.sessions.get(token ?? "");
    if (!me) return fail("not logged in");
    const g = this.groups.get(a.group ?? "");
    switch (cmd) {
      case "logout":
        this.sessions.delete(token!);
        return { ok: true, data: { user: me } };
      case "whoami":
        return { ok: true, data: { user: me, addr: "127.0.0.1:6001" } };
      case "create_group":
        this.groups.set(a.group!, { owner: me, members: [me], pending: [] });
        return { ok: true, data: { group: a.group, owner: me } };
      case "list_groups": {
        const groups = [...this.groups].map(([group, { owner, members, pending }]) => ({
          group,
          owner,
          members: members.length,
          member: members.includes(me),
          pending: pending.includes(me),
        }));
        return { ok: true, data: { groups } };
      }
    }
    if (!g) return fail(`no group ${a.group}`);
    if (cmd === "join_group") {
      g.pending.push(me);
      return { ok: true, data: { group: a.group, owner: g.owner } };
    }
    if (cmd === "list_files") return { ok: true, data: { group: a.group, files: [FILE] } };
    if (g.owner !== me) return fail(`not the owner of group ${a.group}`);
    if (cmd === "list_requests") return { ok: true, data: { group: a.group, requests: g.pending } };
    if (cmd === "accept_request") {
      g.pending = g.pending.filter((u) => u !== a.user);
      g.members.push(a.user!);
      return { ok: true, data: { group: a.group, user: a.user } };
    }
    return fail(`unknown command ${cmd}`);
  }
}

/** A served MiniTracker, a temporary session store, and a way to run the shell. */
interface Peer {
  tracker: MiniTracker;
  store: SessionStore;
  /** Runs the shell on `script` and returns its output lines. */
  run(script: string, interactive?: boolean): Promise<string[]>;
}

async function withPeer(fn: (peer: Peer) => Promise<void>, trackerAt?: Endpoint): Promise<void> {
  const tracker = new MiniTracker();
  const { cert, key } = TRACKER_CERT;
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
  const dir = await Deno.makeTempDir({ prefix: "shoal-shell-test-" });
  const conns: FramedConn[] = [];
  const serving: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const raw of listener) {
      const conn = new FramedConn(raw, { maxFrame: MAX_CONTROL_FRAME });
      conns.push(conn);
      serving.push((async () => {
        for await (const frame of conn.frames()) {
          if (frame.kind !== "json") continue;
          const { id, cmd, args, token } = frame.msg as Message & { args: Args; token?: string };
          const res = tracker.answer(String(cmd), args, token);
          await conn.send({ t: "res", id, ...res }).catch(() => {});
        }
      })());
    }
  })().catch(() => {});
  const endpoint = trackerAt ?? { hostname: "127.0.0.1", port: listener.addr.port };
  const store = new SessionStore(dir);
  const run = async (script: string, interactive = false) => {
    const lines: string[] = [];
    const client = new TrackerClient({
      trackers: [endpoint, endpoint],
      ca: CA.certPem,
      failoverDeadlineMs: 500,
    });
    const output = (line: string) => lines.push(line);
    const addr = "127.0.0.1:6001";
    try {
      const identity = IDENTITY;
      await runShell({ input: input(script), output, client, addr, identity, store, interactive });
    } finally {
      await client.close();
    }
    return lines;
  };
  try {
    await fn({ tracker, store, run });
  } finally {
    listener.close();
    await accepting;
    for (const conn of conns) conn.close();
    await Promise.all(serving);
    await Deno.remove(dir, { recursive: true });
  }
}

function input(text: string): ReadableStream<Uint8Array> {
  return ReadableStream.from([new TextEncoder().encode(text)]);
}

Deno.test("runShell() answers a piped script with one result per command", async () => {
  await withPeer(async ({ run }) => {
    const script = [
      "# a comment, then a blank line",
      "",
      "create_user alice hunter2-s3cret",
      "create_user bob hunter2-s3cret",
      "login bob hunter2-s3cret",
      "list_groups",
      "login alice hunter2-s3cret",
      "whoami",
      "create_group g1",
      "list_requests g1",
      "login bob hunter2-s3cret",
      "join_group g1",
      "login alice hunter2-s3cret",
      "list_requests g1",
      "accept_request g1 bob",
      "list_groups",
      "list_files g1",
      "logout",
      "whoami",
    ].join("\n");
    const out = await run(script);
    assert.ok(!out.some((l) => l.includes("hunter2")), "passwords are never echoed");
    assert.deepEqual(out, [
      "created user alice",
      "created user bob",
      "logged in as bob",
      "no groups",
      "logged in as alice",
      "logged in as alice (peer address 127.0.0.1:6001)",
      "created group g1 (owner alice)",
      "no pending requests for g1",
      "logged in as bob",
      "requested to join g1 (owner alice)",
      "logged in as alice",
      "bob",
      "accepted bob into g1",
      "GROUP  OWNER  MEMBERS  YOU",
      "g1     alice  2        member",
      "NAME       SIZE     SHA1                                      SEEDERS  PARTIAL",
      `movie.mkv  3.0 GiB  ${SHA1}  2        1`,
      "logged out alice",
      "error: not logged in",
    ]);
  });
});

Deno.test("runShell() reports every failure as one line starting with error:", async () => {
  await withPeer(async ({ tracker, run }) => {
    tracker.users.set("bob", "pw");
    tracker.groups.set("g1", { owner: "carol", members: ["carol"], pending: ["dave"] });
    const out = await run(
      "create_user bob pw\nlogin bob wrong\njoin_group g1\nlogin bob pw\n" +
        "accept_request g1 dave\njoin_group no-such\njoin_group bad!id\n",
    );
    assert.deepEqual(out, [
      "error: user bob already exists",
      "error: wrong password for bob",
      "error: not logged in",
      "logged in as bob",
      "error: not the owner of group g1",
      "error: no group no-such",
      'error: invalid group id "bad!id": use 1-64 of A-Z a-z 0-9 _ . -',
    ]);
  });
});

Deno.test("runShell() explains unknown commands and wrong argument counts", async () => {
  await withPeer(async ({ run }) => {
    const out = await run("frobnicate\njoin_group\naccept_request g1\n");
    assert.deepEqual(out, [
      'error: unknown command "frobnicate" (type help)',
      "error: usage: join_group <group_id>",
      "error: usage: accept_request <group_id> <user_id>",
    ]);
  });
});

Deno.test("runShell() saves the session at login and resumes it on the next start", async () => {
  await withPeer(async ({ tracker, run, store }) => {
    tracker.users.set("bob", "pw");
    await run("login bob pw\n");
    const saved = await store.load();
    assert.equal(saved?.user, "bob");
    assert.equal(tracker.sessions.get(saved!.token), "bob");
    assert.deepEqual(await run("whoami\nlogout\n"), [
      "resumed session as bob",
      "logged in as bob (peer address 127.0.0.1:6001)",
      "logged out bob",
    ]);
    assert.equal(await store.load(), null);
  });
});

Deno.test("runShell() silently drops a stored session the tracker does not know", async () => {
  await withPeer(async ({ run, store }) => {
    await store.save({ user: "alice", token: "tok-stale" });
    assert.deepEqual(await run("whoami\n"), ["error: not logged in"]);
    assert.equal(await store.load(), null);
  });
});

Deno.test("runShell() treats a corrupt session file as no session", async () => {
  await withPeer(async ({ run, store }) => {
    await Deno.writeTextFile(store.path, "{not json");
    assert.equal(await store.load(), null);
    assert.deepEqual(await run("whoami\n"), ["error: not logged in"]);
  });
});

Deno.test("runShell() prints one error line when no tracker is reachable", async () => {
  const dead = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const endpoint = { hostname: "127.0.0.1", port: dead.addr.port };
  dead.close();
  const where = `127.0.0.1:${endpoint.port}`;
  await withPeer(async ({ run }) => {
    assert.deepEqual(await run("login alice pw\n"), [
      `error: no tracker reachable (tried ${where} and ${where})`,
    ]);
  }, endpoint);
});

Deno.test("runShell() shows the prompt only when interactive and stops at quit", async () => {
  await withPeer(async ({ run }) => {
    assert.deepEqual(await run("quit\nhelp\n", true), [PROMPT]);
    const help = await run("help\nexit\nfrobnicate\n");
    assert.ok(!help.includes(PROMPT));
    assert.ok(help.includes("  join_group <group_id>"));
    assert.ok(!help.some((l) => l.startsWith("error: ")));
  });
});

/** Lines made of command names, plausible ids and arbitrary strings. */
const commandLine = fc.array(
  fc.oneof(
    fc.constantFrom(
      "help",
      "login",
      "join_group",
      "list_files",
      "list_groups",
      "logout",
      "#",
      "wait",
      "pause_download",
      "cancel_download",
      "show_downloads",
    ),
    fc.stringMatching(/^[a-z0-9_.-]{1,8}$/),
    fc.string({ maxLength: 20 }),
  ),
  { maxLength: 4 },
).map((words) => words.join(" ").replace(/[\r\n]/g, " "));

Deno.test("runShell() never throws and prints at most one error line per input line", async () => {
  const fail = (): Promise<TrackerResult> => Promise.resolve({ ok: false, error: "no\nsecond" });
  const client = { token: "t" as string | undefined, request: fail };
  const done = () => Promise.resolve();
  const store = { load: () => Promise.resolve(null), save: done, clear: done };
  await fc.assert(
    fc.asyncProperty(commandLine, async (line) => {
      const out: string[] = [];
      client.token = "t";
      const opts = { client, store, addr: "127.0.0.1:1", identity: IDENTITY, interactive: false };
      await runShell({ ...opts, input: input(line), output: (l) => out.push(l) });
      assert.ok(out.every((l) => !l.includes("\n")));
      if (out.some((l) => l.startsWith("error: "))) assert.equal(out.length, 1);
    }),
    { numRuns: 300 },
  );
});

Deno.test("runShell() answers the download control commands with one error line each when they cannot run", async () => {
  await withPeer(async ({ tracker, run }) => {
    tracker.users.set("bob", "pw");
    const out = await run(
      "pause_download g1 a.bin\nwait soon\nwait 0\nwait -1\nwait 2 3\nlogin bob pw\n" +
        "cancel_download bad!id a.bin\nresume_download g1\nwait 1\nclear_downloads\n",
    );
    assert.deepEqual(out, [
      "error: not logged in",
      'error: wait: "soon" is not a number of seconds (more than 0, at most 1000000)',
      'error: wait: "0" is not a number of seconds (more than 0, at most 1000000)',
      'error: wait: "-1" is not a number of seconds (more than 0, at most 1000000)',
      "error: usage: wait [<seconds>]",
      "logged in as bob",
      'error: invalid group id "bad!id": use 1-64 of A-Z a-z 0-9 _ . -',
      "error: usage: resume_download <group_id> <file_name>",
      "error: file sharing is not available in this shell",
      "error: file sharing is not available in this shell",
    ]);
  });
});

Deno.test("humanSize() picks a readable unit", () => {
  assert.equal(humanSize(0), "0 B");
  assert.equal(humanSize(1023), "1023 B");
  assert.equal(humanSize(1536), "1.5 KiB");
  assert.equal(humanSize(5 * 1024 ** 2), "5.0 MiB");
});

Deno.test("runShell() leaves out malformed entries of a list answer instead of failing on them", async () => {
  const answers: Record<string, Record<string, unknown>> = {
    list_groups: { groups: [null, 3, { group: "g1", owner: "alice", members: 2, member: true }] },
    list_files: { files: ["x", null] },
  };
  const request = (cmd: string): Promise<TrackerResult> =>
    Promise.resolve({ ok: true, data: answers[cmd] ?? {} });
  const done = () => Promise.resolve();
  const store = { load: () => Promise.resolve(null), save: done, clear: done };
  const out: string[] = [];
  await runShell({
    client: { token: "t", request },
    store,
    addr: "127.0.0.1:1",
    identity: IDENTITY,
    interactive: false,
    input: input("list_groups\nlist_files g1\n"),
    output: (l) => out.push(l),
  });
  assert.equal(out.filter((l) => l.startsWith("error")).length, 0, out.join("\n"));
  assert.ok(out.some((l) => /^g1\s+alice\s+2\s+member$/.test(l)), out.join("\n"));
  assert.ok(out.includes("no files in g1"), out.join("\n"));
});
