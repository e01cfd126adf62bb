/**
 * Failover of the tracker pair with real processes: a primary killed with
 * SIGKILL in the middle of a stream of writes, its restart and catch-up, the
 * failover back to it, and a full stop and restart from disk.
 */
import assert from "node:assert/strict";
import type { Message } from "../shared/frame.ts";
import { TEST_PUBKEY } from "./harness/identity.ts";
import { TrackerPair } from "./harness/tracker_pair.ts";
import { RawClient } from "./_raw_client.ts";

const TOTAL = 300;
const KILL_AFTER = 100;
const WRITERS = 4;

function userName(i: number): string {
  return `u${String(i).padStart(3, "0")}`;
}

function password(user: string): string {
  return `pw-${user}`;
}

/**
 * Asks tracker `n` directly (not through failover) whether each user exists:
 * creating an existing user again must fail with "already exists".
 */
async function assertUsersOn(pair: TrackerPair, n: 1 | 2, users: string[]): Promise<void> {
  const raw = await RawClient.connect(pair.endpoints[n - 1]!, await pair.ca());
  try {
    const answers = await raw.requestMany(
      users.map((user) => ({ cmd: "create_user", args: { user, password: "other" } })),
    );
    const missing = users.filter((u, i) => answers[i]?.error !== `user ${u} already exists`);
    assert.deepEqual(
      missing,
      [],
      `tracker ${n} lacks acknowledged users; first answer: ${JSON.stringify(answers[0])}`,
    );
    // The probe can tell a missing user apart: this one was never created.
    const control = await raw.request("login", {
      user: "never-created",
      password: "x",
      addr: "127.0.0.1:9",
      pubkey: TEST_PUBKEY,
    });
    assert.equal(control.error, "no user never-created");
  } finally {
    await raw.close();
  }
}

/** A write sent once with a request id of our choosing, and the answer it got. */
interface SentWrite {
  id: string;
  cmd: string;
  args: Record<string, unknown>;
  token?: string;
  answer: Message;
}

/**
 * Sends writes that are not idempotent (create a user, log in, create a group)
 * to tracker `n`, each once; returns them with their answers.
 */
async function writeOnce(pair: TrackerPair, n: 1 | 2): Promise<SentWrite[]> {
  const raw = await RawClient.connect(pair.endpoints[n - 1]!, await pair.ca());
  try {
    const sent: SentWrite[] = [];
    const send = async (cmd: string, args: Record<string, unknown>, token?: string) => {
      const id = `once-${cmd}-${crypto.randomUUID()}`;
      const answer = await raw.request(cmd, args, token, id);
      assert.equal(answer.ok, true, `${cmd}: ${JSON.stringify(answer)}`);
      sent.push({ id, cmd, args, token, answer });
      return answer.data as Record<string, unknown>;
    };
    await send("create_user", { user: "resent", password: "pw" });
    const { token } = await send("login", {
      user: "resent",
      password: "pw",
      addr: "127.0.0.1:7",
      pubkey: TEST_PUBKEY,
    });
    await send("create_group", { group: "resent-group" }, String(token));
    return sent;
  } finally {
    await raw.close();
  }
}

/**
 * Re-sends each write with its original request id to tracker `n`, as a client
 * does when the answer was lost: each must get its first answer again rather
 * than being applied a second time ("already exists", a new token).
 */
async function assertResentOnce(pair: TrackerPair, n: 1 | 2, sent: SentWrite[]): Promise<void> {
  const raw = await RawClient.connect(pair.endpoints[n - 1]!, await pair.ca());
  try {
    for (const w of sent) {
      const again = await raw.request(w.cmd, w.args, w.token, w.id);
      assert.deepEqual(again, w.answer, `re-sent ${w.cmd} on tracker ${n}`);
    }
  } finally {
    await raw.close();
  }
}

/** Logs in as `user` on tracker `n` directly; returns the session token. */
async function loginOn(pair: TrackerPair, n: 1 | 2, user: string): Promise<string> {
  const raw = await RawClient.connect(pair.endpoints[n - 1]!, await pair.ca());
  try {
    const res = await raw.request("login", {
      user,
      password: password(user),
      addr: "127.0.0.1:9",
      pubkey: TEST_PUBKEY,
    });
    assert.equal(res.ok, true, `login ${user} on tracker ${n}: ${JSON.stringify(res)}`);
    return String((res.data as Record<string, unknown>).token);
  } finally {
    await raw.close();
  }
}

Deno.test("tracker pair keeps every acknowledged write through SIGKILL, rejoin, failback and restart", async (t) => {
  const pair = await TrackerPair.start();
  const acked: string[] = [];
  let sent: SentWrite[] = [];
  try {
    await t.step(
      "a write stream survives SIGKILL of the primary with no client error",
      async () => {
        sent = await writeOnce(pair, 1);
        const client = pair.client();
        const errors: string[] = [];
        let next = 0;
        let ackedAtKill = -1;
        let killing: Promise<unknown> | null = null;
        const t2 = pair.tracker(2);
        const mark = t2.mark();
        const writer = async () => {
          while (next < TOTAL) {
            const user = userName(next++);
            try {
              const res = await client.request("create_user", { user, password: password(user) });
              if (res.ok && res.data.user === user) acked.push(user);
              else errors.push(`${user}: ${JSON.stringify(res)}`);
            } catch (err) {
              errors.push(`${user}: ${(err as Error).message}`);
            }
            if (killing === null && acked.length >= KILL_AFTER) {
              ackedAtKill = acked.length;
              killing = pair.kill(1, "SIGKILL");
            }
          }
        };
        await Promise.all(Array.from({ length: WRITERS }, writer));
        await killing;
        assert.deepEqual(errors, [], pair.logs());
        assert.equal(acked.length, TOTAL);
        assert.ok(
          ackedAtKill >= KILL_AFTER && ackedAtKill < TOTAL - 50,
          `the primary died mid-stream (after ${ackedAtKill} writes)`,
        );
        assert.equal(pair.tracker(1).alive, false);
        assert.equal(await t2.waitPrimary({ since: mark }), 2);
        assert.equal(client.current, 1, "the client moved to tracker 2");
        await assertUsersOn(pair, 2, acked);
        await assertResentOnce(pair, 2, sent);
        await assertResentOnce(pair, 2, sent);
      },
    );

    await t.step(
      "the killed tracker rejoins as secondary, catches up, then takes over",
      async () => {
        const t2 = pair.tracker(2);
        const t1 = await pair.startTracker(1);
        const caughtUp = await t1.waitCaughtUp();
        const primary = await t2.status();
        assert.equal(primary.role, "primary");
        assert.equal(caughtUp, primary.index, "caught up to the primary's last op");
        assert.equal((await t1.status()).role, "secondary");
        assert.doesNotMatch(t1.log(), /is now primary/);

        // Writes while the rejoined tracker follows live.
        const client = pair.client();
        for (let i = TOTAL; i < TOTAL + 20; i++) {
          const user = userName(i);
          const res = await client.request("create_user", { user, password: password(user) });
          assert.deepEqual(res, { ok: true, data: { user } });
          acked.push(user);
        }

        const mark = t1.mark();
        await pair.kill(2, "SIGKILL");
        assert.equal(await t1.waitPrimary({ since: mark }), 3);
        await assertUsersOn(pair, 1, acked);
        await assertResentOnce(pair, 1, sent);
        // The passwords came across too: logins work on the new primary.
        for (const user of [acked[0]!, acked[KILL_AFTER]!, acked[acked.length - 1]!]) {
          await loginOn(pair, 1, user);
        }
      },
    );

    await t.step("both trackers stopped with SIGTERM recover all state from disk", async () => {
      const t2 = await pair.startTracker(2, "secondary");
      const token = await loginOn(pair, 1, "u007");
      const client = pair.client();
      client.token = token;
      assert.equal((await client.request("create_group", { group: "kept" })).ok, true);
      const before = await pair.tracker(1).status();

      for (const n of [2, 1] as const) {
        const exit = await pair.kill(n, "SIGTERM");
        assert.equal(exit.code, 0, `tracker ${n} exits cleanly on SIGTERM`);
        assert.match(pair.tracker(n).log(), new RegExp(`Tracker ${n} stopped`));
      }
      assert.equal(t2.alive, false);

      // Tracker 2 alone first: everything it serves comes from its own disk.
      const r2 = await pair.startTracker(2, "primary");
      await assertUsersOn(pair, 2, acked);
      const raw = await RawClient.connect(pair.endpoints[1], await pair.ca());
      try {
        const who: Message = await raw.request("whoami", {}, token);
        const session = who.data as Record<string, unknown>;
        assert.equal(session.user, "u007", "the session survived");
        assert.equal(session.addr, "127.0.0.1:9");
        const groups: Message = await raw.request("list_groups", {}, token);
        const list = (groups.data as { groups: { group: string }[] }).groups;
        assert.deepEqual(list.toSorted((a, b) => a.group < b.group ? -1 : 1), [
          { group: "kept", owner: "u007", members: 1, member: true, pending: false },
          { group: "resent-group", owner: "resent", members: 1, member: false, pending: false },
        ]);
      } finally {
        await raw.close();
      }

      // Tracker 1 then resumes from its own log: it asks only for what follows it.
      const mark = r2.mark();
      await pair.startTracker(1, "secondary");
      const m = await r2.waitForLog(/Secondary catching up from index (\d+) by "log"/, {
        since: mark,
      });
      assert.equal(Number(m[1]), before.index, "tracker 1 reloaded its whole log from disk");
    });
  } finally {
    await pair.close();
  }
});

Deno.test("primary answers a write only once the secondary has it, or has been declared dead", async () => {
  const pair = await TrackerPair.start();
  try {
    const t1 = pair.tracker(1);
    const t2 = pair.tracker(2);
    const client = pair.client();
    assert.equal((await client.request("create_user", { user: "ann", password: "pw" })).ok, true);
    const login = await client.request("login", {
      user: "ann",
      password: "pw",
      addr: "127.0.0.1:7",
      pubkey: TEST_PUBKEY,
    });
    assert.equal(login.ok, true);
    client.token = String(login.ok && login.data.token);

    // Freeze the secondary: it can neither acknowledge nor close the link.
    t2.signal("SIGSTOP");
    const started = Date.now();
    const frozen = await client.request("create_group", { group: "while-frozen" });
    const waited = Date.now() - started;
    assert.deepEqual(frozen, { ok: true, data: { group: "while-frozen", owner: "ann" } });
    // Three missed heartbeats (3 x 200 ms) declare the secondary dead; only then
    // may the primary answer alone.
    assert.ok(waited >= 500, `answered after ${waited} ms, before the secondary acknowledged`);
    assert.match(t1.log(), /No heartbeat from tracker 2 for 3 intervals/);

    // The secondary thaws, rejoins, catches up, and then holds that write.
    const mark = t2.mark();
    t2.signal("SIGCONT");
    await t2.waitCaughtUp({ since: mark });
    assert.equal((await client.request("create_group", { group: "after-thaw" })).ok, true);
    await pair.kill(1, "SIGKILL");
    await t2.waitPrimary({ since: mark });
    const groups = await client.request("list_groups", {});
    assert.deepEqual(
      (groups.ok ? groups.data.groups as { group: string }[] : []).map((g) => g.group).sort(),
      ["after-thaw", "while-frozen"],
      JSON.stringify(groups),
    );
  } finally {
    await pair.close();
  }
});
