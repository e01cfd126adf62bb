/**
 * Peer churn: four seeders of one file are killed with SIGKILL and restarted
 * (same state directory and address, so they resume their session and offer
 * their share again) at random moments while three downloaders fetch the file
 * at once. The downloaders also serve each other, so partial peers are used
 * too. Every download must end with the right bytes within a deadline.
 *
 * The moments are drawn from a seeded PRNG; the seed is printed, and
 * `SHOAL_CHURN_SEED` replays it. `SHOAL_CHURN_MIB` sets the file size
 * (default 24 MiB; the long run uses e.g. 128).
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { CHANGE_CHECK_MS } from "../peer/shares/file_service.ts";
import { assertSameBytes, parseListFiles, sha1OfFile, writeRandomFile } from "./harness/files.ts";
import type { PeerShell } from "./harness/shell.ts";
import { GROUP, Swarm } from "./harness/swarm.ts";
import { delay, waitFor } from "./harness/wait.ts";
import { prng } from "./_prng.ts";

const MiB = 1024 * 1024;
const SIZE_MIB = Number(Deno.env.get("SHOAL_CHURN_MIB") ?? "24");
const SEEDERS = 4;
const DOWNLOADERS = 3;
/** At most this many seeders are down at the same time (never all of them). */
const MAX_DOWN = SEEDERS - 1;
/** A seeder is killed after a random pause in this range (ms). */
const KILL_GAP_MS: [number, number] = [20, 350];
/**
 * The first kill comes sooner: on loopback a 24 MiB download can end within
 * the longest gap, and then the test would have churned nothing.
 */
const FIRST_KILL_MS: [number, number] = [0, 40];
/** A killed seeder is restarted after a random pause in this range (ms). */
const DOWN_FOR_MS: [number, number] = [50, 1000];
/** Every download must be complete this long after it was started. */
const DEADLINE_MS = 30_000 + SIZE_MIB * 600;
/** Transfer workers per peer: seven peers and two trackers share the machine. */
const WORKERS = 2;
const NAME = "churn.bin";

/** One seeder slot: the label and state of the user, and its current process. */
interface Seeder {
  label: string;
  proc: PeerShell;
  /** False from the kill until the restarted process has resumed its session. */
  up: boolean;
  restarts: number;
}

/** The outcome of a download as printed by the downloader's shell. */
function downloadEnded(p: PeerShell): "complete" | "failed" | null {
  const m = new RegExp(`download of ${NAME.replace(".", "\\.")} (complete|failed)`).exec(p.stdout);
  return (m?.[1] as "complete" | "failed" | undefined) ?? null;
}

/** The modification time a peer recorded when it started seeding `name` (its `peer.db`). */
function sharedMtime(stateDir: string): number | undefined {
  const db = new DatabaseSync(`${stateDir}/peer.db`);
  try {
    const row = db.prepare("SELECT mtime FROM shares WHERE name = ?").get(NAME);
    return row === undefined ? undefined : Number(row.mtime);
  } finally {
    db.close();
  }
}

/**
 * Kills and restarts seeders at random moments until `stop` is aborted; then
 * waits for every restart still under way. Returns the number of kills.
 */
async function churn(
  s: Swarm,
  seeders: Seeder[],
  options: { random: () => number; stop: AbortSignal; events: string[]; t0: number },
): Promise<number> {
  const { random, stop, events, t0 } = options;
  const between = ([lo, hi]: [number, number]) => lo + Math.floor(random() * (hi - lo));
  const note = (what: string) =>
    events.push(`${((performance.now() - t0) / 1000).toFixed(2)} s ${what}`);
  const restarts: Promise<void>[] = [];
  const failures: unknown[] = [];
  let kills = 0;
  while (!stop.aborted) {
    await delay(between(kills === 0 ? FIRST_KILL_MS : KILL_GAP_MS));
    if (stop.aborted) break;
    const up = seeders.filter((x) => x.up);
    if (SEEDERS - up.length >= MAX_DOWN) continue;
    const victim = up[Math.floor(random() * up.length)]!;
    const downFor = between(DOWN_FOR_MS);
    victim.up = false;
    await victim.proc.kill("SIGKILL");
    kills++;
    note(`killed ${victim.label} (down ${SEEDERS - up.length + 1}), restart in ${downFor} ms`);
    restarts.push(
      (async () => {
        await delay(downFor);
        victim.restarts++;
        const proc = await s.start(`${victim.label}-r${victim.restarts}`, {
          stateDir: s.stateDir(victim.label),
          addr: victim.proc.addr,
          workers: WORKERS,
        });
        victim.proc = proc;
        await proc.waitStdout(/resumed session as /);
        note(`restarted ${victim.label}`);
        victim.up = true;
      })().catch((err) => {
        failures.push(err);
      }),
    );
  }
  await Promise.all(restarts);
  if (failures.length > 0) {
    throw new Error(`A restart of a seeder failed`, { cause: failures[0] });
  }
  return kills;
}

Deno.test(`downloads complete with the right bytes while seeders are killed and restarted at random (${SIZE_MIB} MiB)`, async () => {
  const seed = Number(Deno.env.get("SHOAL_CHURN_SEED") ?? Math.floor(Math.random() * 2 ** 32));
  console.log(`peer churn: seed ${seed} (SHOAL_CHURN_SEED=${seed} replays it), ${SIZE_MIB} MiB`);
  const events: string[] = [];
  await Swarm.run(async (s) => {
    const labels = Array.from({ length: SEEDERS }, (_, i) => `seed${i + 1}`);
    const seeders: Seeder[] = [];
    for (const label of labels) {
      seeders.push({
        label,
        proc: await s.member(label, { workers: WORKERS }),
        up: true,
        restarts: 0,
      });
    }
    const downloaders: PeerShell[] = [];
    for (let i = 1; i <= DOWNLOADERS; i++) {
      downloaders.push(await s.member(`down${i}`, { workers: WORKERS }));
    }
    const src = await s.mkdir("src");
    const sha1 = await writeRandomFile(`${src}/${NAME}`, SIZE_MIB * MiB);
    await Promise.all(
      seeders.map((x) => x.proc.ok(`upload_file ${src}/${NAME} ${GROUP}`, 120_000)),
    );
    const dsts = await Promise.all(downloaders.map((d) => s.mkdir(`dst-${d.label}`)));

    const t0 = performance.now();
    await Promise.all(downloaders.map((d, i) => d.ok(`download_file ${GROUP} ${NAME} ${dsts[i]}`)));
    const stop = new AbortController();
    const churning = churn(s, seeders, { random: prng(seed), stop: stop.signal, events, t0 });
    const took: number[] = [];
    let failure: unknown = null;
    try {
      await waitFor(() => {
        for (const [i, d] of downloaders.entries()) {
          if (!d.alive) throw new Error(`${d.label} exited (${JSON.stringify(d.exit)})`);
          const end = downloadEnded(d);
          if (end === "failed") throw new Error(`${d.label}'s download failed`);
          if (end === "complete" && took[i] === undefined) took[i] = performance.now() - t0;
        }
        return took.filter((t) => t !== undefined).length === DOWNLOADERS;
      }, { timeoutMs: DEADLINE_MS, intervalMs: 50, what: `all ${DOWNLOADERS} downloads` });
    } catch (err) {
      failure = err;
    }
    stop.abort();
    const kills = await churning.catch((err) => {
      failure ??= err;
      return -1;
    });
    if (failure !== null) {
      throw new Error(`Peer churn failed (seed ${seed}); churn:\n${events.join("\n")}`, {
        cause: failure,
      });
    }
    const seconds = (Math.max(...took) / 1000).toFixed(1);
    assert.ok(kills >= 1, `no seeder was killed before the downloads ended (seed ${seed})`);

    for (const [i, d] of downloaders.entries()) {
      const path = `${dsts[i]}/${NAME}`;
      assert.equal(await sha1OfFile(path), sha1, `${d.label} has the wrong SHA-1 (seed ${seed})`);
      await assertSameBytes(path, `${src}/${NAME}`);
      const shown = (await d.run("show_downloads")).filter((l) => /^\[[DCFV]\]/.test(l));
      assert.deepEqual(shown, [`[C] [${GROUP}] ${NAME}`]);
    }
    for (const x of seeders) assert.ok(x.proc.alive, `${x.label} is not running at the end`);

    // A finished download is a full seeder and stays one: the file under its final name must
    // not change after it was registered (the periodic check would withdraw it).
    const mtimes = await Promise.all(downloaders.map(async (d, i) => ({
      label: d.label,
      recorded: sharedMtime(d.stateDir),
      now: (await Deno.stat(`${dsts[i]}/${NAME}`)).mtime?.getTime(),
    })));
    await delay(CHANGE_CHECK_MS + 1000);
    for (const d of downloaders) {
      assert.ok(
        !/stopped sharing/.test(d.stdout),
        `${d.label} stopped seeding its completed download (seed ${seed}): ` +
          `${JSON.stringify(mtimes)}\n${d.describe()}`,
      );
    }
    const row = parseListFiles(await downloaders[0]!.run(`list_files ${GROUP}`)).get(NAME);
    assert.equal(row?.seeders, SEEDERS + DOWNLOADERS, `list_files: ${JSON.stringify(row)}`);
    console.log(
      `peer churn: per downloader ${took.map((t) => (t / 1000).toFixed(1)).join(" s, ")} s`,
    );
    console.log(
      `peer churn: ${SEEDERS} seeders, ${DOWNLOADERS} downloaders, ${kills} kills, ` +
        `all ${DOWNLOADERS} files correct in ${seconds} s`,
    );
  });
});
