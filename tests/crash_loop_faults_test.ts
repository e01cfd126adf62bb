/**
 * Fault injection with real tracker processes: for several rounds a random
 * tracker (seeded PRNG) is killed with SIGKILL at a random moment while
 * concurrent clients create users, log in, create and join groups and share
 * files, then restarted and allowed to settle. At the end both trackers must
 * hold identical state and every write acknowledged with `ok: true` must be in
 * it.
 *
 * `SHOAL_FAULT_ROUNDS` sets the number of rounds (default 4; `make test-faults`
 * runs 20). `SHOAL_FAULT_SEED` replays a run.
 */
import assert from "node:assert/strict";
import type { StateSnapshot } from "../tracker/state/state.ts";
import { Store } from "../tracker/store/store.ts";
import type { TrackerClient, TrackerResult } from "../peer/tracker_client/tracker_client.ts";
import { TEST_KEY_ID, TEST_PUBKEY } from "./harness/identity.ts";
import { TrackerPair } from "./harness/tracker_pair.ts";
import { delay, waitFor } from "./harness/wait.ts";
import { prng } from "./_prng.ts";

type Pair = TrackerPair;

const ROUNDS = Number(Deno.env.get("SHOAL_FAULT_ROUNDS") ?? 4);
const SEED = Number(Deno.env.get("SHOAL_FAULT_SEED") ?? Math.floor(Math.random() * 2 ** 31));
const WRITERS = 4;
const PIECE_SIZE = 524_288;
/** A tracker is killed this long (random within) after the pair last settled. */
const KILL_AFTER_MS: [number, number] = [100, 1500];
/** The killed tracker stays down this long (random within). */
const DOWN_MS: [number, number] = [0, 1000];
/** How long a restarted pair may take to be one primary and one caught-up secondary. */
const SETTLE_TIMEOUT_MS = 20_000;
/** Probe requests in flight at once at the end. */
const PROBE_BATCH = 16;

/** What the acknowledged writes say the final state must contain. */
interface Expected {
  users: Map<string, string>;
  /** Token of each acknowledged login (no user logs in twice). */
  sessions: Map<string, string>;
  groups: Map<string, { owner: string; members: Set<string>; joined: Set<string> }>;
  files: Map<
    string,
    {
      group: string;
      name: string;
      size: number;
      sha1: string;
      pieces: string;
      sources: Set<string>;
    }
  >;
}

/** A write that neither got an answer nor was refused cleanly, or one refused. */
interface Problem {
  writer: number;
  cmd: string;
  args: Record<string, unknown>;
  answer: string;
}

/** Shared bookkeeping of every writer. */
class Book {
  readonly expected: Expected = {
    users: new Map(),
    sessions: new Map(),
    groups: new Map(),
    files: new Map(),
  };
  /** Every acknowledged write, in acknowledgement order. */
  readonly acked: { writer: number; cmd: string; args: Record<string, unknown> }[] = [];
  readonly refused: Problem[] = [];
  readonly unanswered: Problem[] = [];
  /** Owner tokens of acknowledged groups, so other writers' members can be accepted. */
  readonly owners = new Map<string, string>();
  #addr = 20_000;

  /** A peer address no other session uses (a login at a used address ends that session). */
  nextAddr(): string {
    return `127.0.0.1:${this.#addr++}`;
  }
}

/** One writer: a client that runs user/group/file scenarios until `stop` is set. */
async function writer(
  n: number,
  pair: Pair,
  book: Book,
  rand: () => number,
  stop: { now: boolean },
) {
  const client = pair.client();
  const e = book.expected;
  const hex = (chars: number) =>
    Array.from({ length: chars }, () => Math.floor(rand() * 16).toString(16)).join("");
  const write = async (cmd: string, args: Record<string, unknown>, token?: string) => {
    client.token = token;
    try {
      const res = await client.request(cmd, args);
      if (res.ok) {
        book.acked.push({ writer: n, cmd, args });
        return res.data;
      }
      book.refused.push({ writer: n, cmd, args, answer: JSON.stringify(res) });
    } catch (err) {
      book.unanswered.push({ writer: n, cmd, args, answer: (err as Error).message });
    }
    return null;
  };
  const login = async (user: string) => {
    const data = await write("login", {
      user,
      password: `pw-${user}`,
      addr: book.nextAddr(),
      pubkey: TEST_PUBKEY,
    });
    if (!data) return null;
    e.sessions.set(user, String(data.token));
    return String(data.token);
  };
  const newUser = async (user: string) => {
    if (!await write("create_user", { user, password: `pw-${user}` })) return null;
    e.users.set(user, `pw-${user}`);
    return await login(user);
  };
  const share = async (group: string, name: string, user: string, token: string) => {
    const known = e.files.get(`${group}/${name}`);
    const size = known?.size ?? 1 + Math.floor(rand() * 5 * PIECE_SIZE);
    const pieces = known?.pieces ?? hex(40 * Math.ceil(size / PIECE_SIZE));
    const sha1 = known?.sha1 ?? hex(40);
    const args = { group, name, size, pieceSize: PIECE_SIZE, pieces, sha1 };
    if (!await write("share_file", args, token)) return;
    const f = e.files.get(`${group}/${name}`) ??
      { group, name, size, sha1, pieces, sources: new Set<string>() };
    f.sources.add(user);
    e.files.set(`${group}/${name}`, f);
  };
  const joinAndAccept = async (group: string, user: string, token: string) => {
    const ownerToken = book.owners.get(group)!;
    if (!await write("join_group", { group }, token)) return false;
    const g = e.groups.get(group)!;
    g.joined.add(user);
    if (!await write("accept_request", { group, user }, ownerToken)) return false;
    g.members.add(user);
    return true;
  };
  for (let k = 0; !stop.now; k++) {
    const owner = `w${n}o${k}`;
    const member = `w${n}m${k}`;
    const group = `g-w${n}-${k}`;
    const ownerToken = await newUser(owner);
    if (!ownerToken) continue;
    if (!await write("create_group", { group }, ownerToken)) continue;
    e.groups.set(group, { owner, members: new Set([owner]), joined: new Set() });
    book.owners.set(group, ownerToken);
    await share(group, `f${k}.bin`, owner, ownerToken);
    const memberToken = await newUser(member);
    if (!memberToken) continue;
    if (await joinAndAccept(group, member, memberToken)) {
      await share(group, `f${k}.bin`, member, memberToken);
      await share(group, `m${k}.bin`, member, memberToken);
    }
    // Sometimes the member also joins another writer's group.
    const others = [...book.owners.keys()].filter((g) => !g.startsWith(`g-w${n}-`));
    if (others.length > 0 && rand() < 0.5) {
      const other = others[Math.floor(rand() * others.length)]!;
      if (await joinAndAccept(other, member, memberToken)) {
        await share(other, `x-${member}.bin`, member, memberToken);
      }
    }
  }
}

/** Waits until one tracker is primary and the other a connected secondary that caught up since `marks`. */
async function settle(pair: Pair, marks: [number, number]): Promise<void> {
  await waitFor(async () => {
    const s = [await pair.tracker(1).status(), await pair.tracker(2).status()];
    const p = s.findIndex((x) => x.role === "primary");
    if (p < 0 || s[1 - p]!.role !== "secondary") return false;
    if (!s[p]!.other.startsWith("other tracker: connected, secondary")) return false;
    if (!s[1 - p]!.other.startsWith("other tracker: connected, primary")) return false;
    const secondary = pair.tracker((2 - p) as 1 | 2);
    return /Caught up with the primary/.test(secondary.log().slice(marks[1 - p]));
  }, { timeoutMs: SETTLE_TIMEOUT_MS, intervalMs: 100, what: "the pair to settle" });
}

/** Which tracker is primary now. */
async function primaryOf(pair: Pair): Promise<1 | 2> {
  return (await pair.tracker(1).status()).role === "primary" ? 1 : 2;
}

/** Sends `requests` through `client` at most `PROBE_BATCH` at a time, in order. */
async function requestAll(
  client: TrackerClient,
  requests: { cmd: string; args: Record<string, unknown>; token?: string }[],
): Promise<TrackerResult[]> {
  const out: TrackerResult[] = [];
  for (let i = 0; i < requests.length; i += PROBE_BATCH) {
    out.push(
      ...await Promise.all(
        requests.slice(i, i + PROBE_BATCH).map((r) => {
          client.token = r.token;
          return client.request(r.cmd, r.args);
        }),
      ),
    );
  }
  return out;
}

/**
 * Checks every acknowledged user, group and file through requests to the
 * primary (through a failover client; a few at a time, since each
 * `create_user` costs the tracker a password hash); returns the checks made.
 */
async function probePrimary(pair: Pair, book: Book): Promise<number> {
  const client = pair.client();
  const e = book.expected;
  const users = [...e.users.keys()];
  const answers = await requestAll(
    client,
    users.map((user) => ({ cmd: "create_user", args: { user, password: "other" } })),
  );
  const missing = users.filter((u, i) => {
    const a = answers[i]!;
    return a.ok || a.error !== `user ${u} already exists`;
  });
  assert.deepEqual(missing, [], "acknowledged users missing on the primary");
  const [created] = await requestAll(client, [{
    cmd: "create_user",
    args: { user: "checker", password: "pw-checker" },
  }]);
  assert.equal(created?.ok, true, JSON.stringify(created));
  const [login] = await requestAll(client, [{
    cmd: "login",
    args: { user: "checker", password: "pw-checker", addr: book.nextAddr(), pubkey: TEST_PUBKEY },
  }]);
  assert.ok(login?.ok, JSON.stringify(login));
  const [list] = await requestAll(client, [{
    cmd: "list_groups",
    args: {},
    token: String(login.data.token),
  }]);
  assert.ok(list?.ok, JSON.stringify(list));
  const listed = list.data.groups as { group: string; owner: string; members: number }[];
  const groups = new Map(listed.map((g) => [g.group, g]));
  let checked = users.length;
  for (const [id, want] of e.groups) {
    const got = groups.get(id);
    assert.ok(got, `acknowledged group ${id} missing on the primary`);
    assert.equal(got.owner, want.owner, `owner of ${id}`);
    assert.ok(got.members >= want.members.size, `members of ${id}: ${got.members}`);
    checked++;
  }
  // Each file, looked up by its first acknowledged source, lists the others.
  const files = [...e.files.values()];
  // Lookups list only sources whose peer is alive (heard from lately); these
  // sessions have no peer process, so each speaks once first, as a peer's
  // keepalive would.
  const sources = new Set(files.flatMap((f) => [...f.sources]));
  await requestAll(
    client,
    [...sources].map((u) => ({ cmd: "whoami", args: {}, token: e.sessions.get(u) })),
  );
  const lookups = await requestAll(
    client,
    files.map((f) => ({
      cmd: "lookup_file",
      args: { group: f.group, name: f.name, id: TEST_KEY_ID },
      token: e.sessions.get([...f.sources][0]!),
    })),
  );
  files.forEach((f, i) => {
    const res = lookups[i]!;
    assert.ok(res.ok, `lookup of ${f.group}/${f.name}: ${JSON.stringify(res)}`);
    const data = res.data as { sha1: string; pieces: string; peers: { user: string }[] };
    assert.equal(data.sha1, f.sha1, `sha1 of ${f.group}/${f.name}`);
    assert.equal(data.pieces, f.pieces, `pieces of ${f.group}/${f.name}`);
    const peers = new Set(data.peers.map((p) => p.user));
    // The caller (the first source) is left out of its own lookup; the disk check covers it.
    for (const u of [...f.sources].slice(1)) {
      assert.ok(peers.has(u), `${u} not a source of ${f.group}/${f.name}`);
    }
    checked++;
  });
  return checked;
}

/** Checks every acknowledged write against a state read from disk; returns the checks made. */
function checkState(snap: StateSnapshot, e: Expected): { checked: number; lost: string[] } {
  const lost: string[] = [];
  let checked = 0;
  const users = new Set(snap.users.map((u) => u.id));
  for (const u of e.users.keys()) {
    checked++;
    if (!users.has(u)) lost.push(`user ${u}`);
  }
  const sessions = new Map(snap.sessions.map((s) => [s.user, s.token]));
  for (const [u, token] of e.sessions) {
    checked++;
    if (sessions.get(u) !== token) lost.push(`session of ${u}`);
  }
  const groups = new Map(snap.groups.map((g) => [g.id, g]));
  for (const [id, want] of e.groups) {
    checked++;
    const got = groups.get(id);
    if (!got) {
      lost.push(`group ${id}`);
      continue;
    }
    if (got.owner !== want.owner) lost.push(`owner ${want.owner} of ${id} (is ${got.owner})`);
    for (const m of want.joined) {
      checked++;
      if (!got.members.includes(m) && !got.pending.includes(m)) lost.push(`join of ${m} to ${id}`);
    }
    for (const m of want.members) {
      checked++;
      if (!got.members.includes(m)) lost.push(`member ${m} of ${id}`);
    }
  }
  const files = new Map(snap.files.map((f) => [`${f.group}/${f.name}`, f]));
  for (const [key, want] of e.files) {
    checked++;
    const got = files.get(key);
    if (!got) {
      lost.push(`file ${key}`);
      continue;
    }
    if (got.sha1 !== want.sha1 || got.size !== want.size || got.pieces !== want.pieces) {
      lost.push(`metadata of file ${key}`);
    }
    const sources = new Set(got.sources.map((s) => s.user));
    for (const u of want.sources) {
      checked++;
      if (!sources.has(u)) lost.push(`source ${u} of file ${key}`);
    }
  }
  return { checked, lost };
}

/** Loads tracker `n`'s state from its data directory (the tracker must be stopped). */
function loadState(pair: Pair, n: 1 | 2): StateSnapshot {
  const store = new Store(`${pair.dataDir(n)}/tracker.db`);
  try {
    return store.load().toSnapshot();
  } finally {
    store.close();
  }
}

Deno.test(`tracker pair keeps every acknowledged write and identical state through ${ROUNDS} rounds of SIGKILL and restart`, async () => {
  console.log(`crash loop: seed ${SEED} (replay with SHOAL_FAULT_SEED=${SEED}), ${ROUNDS} rounds`);
  const rand = prng(SEED);
  const pair = await TrackerPair.start({ heartbeatMs: 200, graceMs: 500 });
  const book = new Book();
  const stop = { now: false };
  let writers: Promise<void[]> | null = null;
  const started = Date.now();
  let round = 0;
  try {
    writers = Promise.all(
      Array.from({ length: WRITERS }, (_, i) => writer(i, pair, book, prng(SEED + i + 1), stop)),
    );
    for (round = 1; round <= ROUNDS; round++) {
      const victim: 1 | 2 = rand() < 0.5 ? 1 : 2;
      const wait = KILL_AFTER_MS[0] + Math.floor(rand() * (KILL_AFTER_MS[1] - KILL_AFTER_MS[0]));
      const down = DOWN_MS[0] + Math.floor(rand() * (DOWN_MS[1] - DOWN_MS[0]));
      await delay(wait);
      const role = (await pair.tracker(victim).status()).role;
      await pair.kill(victim, "SIGKILL");
      const ackedAtKill = book.acked.length;
      await delay(down);
      const marks: [number, number] = [0, 0];
      marks[2 - victim] = pair.tracker((3 - victim) as 1 | 2).mark();
      const t0 = Date.now();
      await pair.startTracker(victim);
      await settle(pair, marks);
      console.log(
        `round ${round}: killed tracker ${victim} (${role}) after ${wait} ms with ${ackedAtKill} ` +
          `acked, down ${down} ms, settled ${Date.now() - t0} ms after restart, ` +
          `primary now ${await primaryOf(pair)}`,
      );
    }
    stop.now = true;
    await writers;
    writers = null;

    assert.deepEqual(book.unanswered, [], "writes that got no answer before the deadline");
    assert.deepEqual(
      book.refused,
      [],
      "valid writes refused (applied twice, or lost and re-sent?)",
    );
    const probed = await probePrimary(pair, book);

    // Let the secondary apply everything, then stop both and read their disks.
    await waitFor(async () => {
      const [a, b] = [await pair.tracker(1).status(), await pair.tracker(2).status()];
      return a.index === b.index && a.commitIndex === a.index && b.commitIndex === b.index;
    }, { what: "both trackers at the same committed index" });
    const secondary = (3 - await primaryOf(pair)) as 1 | 2;
    await pair.kill(secondary, "SIGKILL");
    await pair.kill((3 - secondary) as 1 | 2, "SIGKILL");
    const [s1, s2] = [loadState(pair, 1), loadState(pair, 2)];
    assert.deepEqual(s1, s2, "tracker 1 and tracker 2 hold different state on disk");
    const { checked, lost } = checkState(s1, book.expected);
    assert.deepEqual(lost, [], `acknowledged writes lost (seed ${SEED})`);
    console.log(
      `crash loop: ${ROUNDS} rounds, ${book.acked.length} acknowledged ops checked ` +
        `(${checked} facts on disk, ${probed} through the primary), ${lost.length} lost, ` +
        `states identical (index ${s1.index}, epoch ${s1.epoch}), seed ${SEED}, ` +
        `${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  } catch (err) {
    const file = await Deno.makeTempFile({ prefix: `shoal-crash-loop-${SEED}-`, suffix: ".log" });
    await Deno.writeTextFile(file, pair.logs());
    console.log(`crash loop FAILED: seed ${SEED}, round ${round}; tracker logs in ${file}`);
    throw err;
  } finally {
    stop.now = true;
    await pair.close();
    await writers?.catch(() => {});
  }
});
