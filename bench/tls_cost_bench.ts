/**
 * `deno task bench:tls [--against <commit>] [--rounds <n>] [--runs <n>]`:
 * what TLS costs a download, measured against a checkout of the last
 * plaintext commit in one interleaved run. Each round runs `--runs`
 * downloads (1 GiB, then 64 MiB, from one seeder) in this tree and in the
 * other, alternating, so that the machine's drift falls on both arms alike.
 * The other checkout is a temporary `git worktree`, removed at the end.
 * Prints a table and writes bench/results/tls_cost.json, which the
 * performance report (`deno task bench`) shows.
 */
import { parseArgs } from "node:util";
import { medianMinMax } from "./_stats.ts";
import { mmm, writeResult } from "./_results.ts";

/** The last commit before TLS (issue 13): main after issue 12. */
const LAST_PLAINTEXT = "88094ea";
const SIZES_MIB = [1024, 64];
const ARM_TIMEOUT_MS = 600_000;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    against: { type: "string", default: LAST_PLAINTEXT },
    rounds: { type: "string", default: "4" },
    runs: { type: "string", default: "3" },
  },
});
const rounds = Number(values.rounds);
const runs = Number(values.runs);
if (!(rounds >= 1 && rounds <= 20 && runs >= 1 && runs <= 10)) {
  console.error("error: --rounds must be 1-20 and --runs 1-10");
  Deno.exit(1);
}

const here = new URL("..", import.meta.url).pathname;

async function git(...args: string[]): Promise<string> {
  const out = await new Deno.Command("git", { args, cwd: here, stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`git ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout).trim();
}

interface Arm {
  seconds: number[];
  cpu: number[];
  rss: number[];
}

/** Runs one arm in `tree` and returns its figures. */
async function arm(tree: string, mib: number): Promise<Arm> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "bench/_ab_download.ts", String(runs), String(mib)],
    cwd: tree,
    stdout: "piped",
    stderr: "null",
    signal: AbortSignal.timeout(ARM_TIMEOUT_MS),
  }).output();
  const last = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  if (!out.success || !last.startsWith("{")) throw new Error(`the bench in ${tree} failed`);
  return JSON.parse(last) as Arm;
}

const tlsCommit = await git("rev-parse", "--short", "HEAD");
const plainCommit = await git("rev-parse", "--short", values.against);
const other = await Deno.makeTempDir({ prefix: "shoal-plaintext-" });
await git("worktree", "add", "--detach", other, plainCommit);
const results: Record<string, { tls: Arm; plain: Arm }> = {};
try {
  // The arm's script as this tree has it: the older tree may predate it.
  await Deno.copyFile(`${here}bench/_ab_download.ts`, `${other}/bench/_ab_download.ts`);
  for (const mib of SIZES_MIB) {
    const acc = {
      tls: { seconds: [], cpu: [], rss: [] },
      plain: { seconds: [], cpu: [], rss: [] },
    };
    for (let r = 0; r < rounds; r++) {
      for (const [name, tree] of [["plain", other], ["tls", here]] as const) {
        Deno.stderr.writeSync(
          new TextEncoder().encode(`\r\x1b[K${mib} MiB round ${r + 1}/${rounds}: ${name}`),
        );
        const a = await arm(tree, mib);
        const into: Arm = acc[name];
        into.seconds.push(...a.seconds);
        into.cpu.push(...a.cpu);
        into.rss.push(...a.rss);
      }
    }
    results[String(mib)] = acc;
  }
} finally {
  await git("worktree", "remove", "--force", other).catch(() =>
    Deno.remove(other, { recursive: true })
  );
}
Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[K"));

const report = {
  date: new Date().toISOString(),
  tls: tlsCommit,
  plain: plainCommit,
  rounds,
  runs,
  sizes: results,
};
await Deno.mkdir(`${here}bench/results`, { recursive: true });
await writeResult("tls_cost.json", report);
console.log(
  `TLS (${tlsCommit}) against plaintext (${plainCommit}), ${rounds} rounds × ${runs} downloads per arm; median (min-max)`,
);
console.log("size      arm    time s               CPU s                peak RSS MiB");
for (const [mib, r] of Object.entries(results)) {
  for (const name of ["plain", "tls"] as const) {
    const a = r[name];
    console.log(
      `${`${mib} MiB`.padEnd(10)}${name.padEnd(7)}${mmm(medianMinMax(a.seconds), 2).padEnd(21)}` +
        `${mmm(medianMinMax(a.cpu), 2).padEnd(21)}${mmm(medianMinMax(a.rss), 1)}`,
    );
  }
}
