/**
 * The command line of `shoal` as a user meets it: version, help, and usage
 * errors, each in a real process.
 */
import assert from "node:assert/strict";
import { VERSION } from "../shared/constants.ts";
import { freePort } from "./harness/ports.ts";
import { MAIN } from "./harness/process.ts";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `shoal` with `args`; kills it if it does not exit in 20 s. */
async function shoal(args: string[]): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  try {
    const out = await child.output();
    const decoder = new TextDecoder();
    return {
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** A temporary directory with a valid tracker_info file in it. */
async function sandbox(): Promise<{ home: string; info: string }> {
  const home = await Deno.makeTempDir({ prefix: "shoal-cli-" });
  const info = `${home}/tracker_info.txt`;
  await Deno.writeTextFile(info, `127.0.0.1:${freePort()}\n127.0.0.1:${freePort()}\n`);
  return { home, info };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("shoal --version prints the version of deno.json", async () => {
  const { home } = await sandbox();
  try {
    const manifest = JSON.parse(
      await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
    ) as { version: string };
    assert.equal(VERSION, manifest.version);
    for (const flag of ["--version", "-V"]) {
      const run = await shoal([flag]);
      assert.deepEqual(run, { code: 0, stdout: `shoal ${VERSION}\n`, stderr: "" }, flag);
    }
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("shoal --help, tracker --help and peer --help print usage to stdout and exit 0", async () => {
  const { home } = await sandbox();
  try {
    const cases: [string[], RegExp][] = [
      [["--help"], /^usage: shoal tracker <tracker_info> <n>.*\n\s+shoal peer <ip>:<port>/s],
      [
        ["tracker", "--help"],
        /^usage: shoal tracker <tracker_info> <n> \[options\]\n[^]*--data-dir/,
      ],
      [["tracker", "-h"], /^usage: shoal tracker/],
      [
        ["peer", "--help"],
        /^usage: shoal peer <ip>:<port> <tracker_info> \[options\]\n[^]*--state-dir/,
      ],
      [["peer", "-h"], /^usage: shoal peer/],
    ];
    const runs = await Promise.all(cases.map(([args]) => shoal(args)));
    for (const [i, [args, usage]] of cases.entries()) {
      const run = runs[i]!;
      assert.equal(run.code, 0, args.join(" "));
      assert.match(run.stdout, usage, args.join(" "));
      assert.equal(run.stderr, "", args.join(" "));
    }
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("shoal with wrong arguments prints usage to stderr and exits 2 without starting", async () => {
  const { home, info } = await sandbox();
  const data = ["--data-dir", `${home}/data`];
  const state = ["--state-dir", `${home}/state`];
  try {
    // [arguments, what stderr must say]
    const cases: [string[], RegExp][] = [
      [[], /^usage: shoal tracker <tracker_info> <n>/],
      [["frobnicate"], /^usage: shoal tracker/],
      [["tracker"], /usage: shoal tracker/],
      [["tracker", info], /usage: shoal tracker/],
      [["tracker", info, "3", ...data], /<n> must be 1 or 2\nusage: shoal tracker/],
      [["tracker", info, "0"], /<n> must be 1 or 2/],
      [["tracker", info, "one"], /<n> must be 1 or 2/],
      [["tracker", info, "1", "extra"], /usage: shoal tracker/],
      [["tracker", info, "1", ...data, "--bogus"], /^error: .*bogus[^]*usage: shoal tracker/],
      [["tracker", info, "1", ...data, "--heartbeat", "5"], /--heartbeat must be a whole number/],
      [["tracker", info, "1", "--grace", "soon"], /--grace must be a whole number/],
      [["tracker", info, "1", "--data-dir"], /^error: [^]*usage: shoal tracker/],
      [["peer"], /usage: shoal peer/],
      [["peer", "127.0.0.1:5000"], /usage: shoal peer/],
      [["peer", "nonsense", info, ...state], /Invalid address "nonsense"[^]*usage: shoal peer/],
      [["peer", "127.0.0.1", info], /Invalid address "127.0.0.1"[^]*usage: shoal peer/],
      [["peer", "127.0.0.1:99999", info], /Invalid port in "127.0.0.1:99999"[^]*usage: shoal peer/],
      [["peer", "127.0.0.1:0", info], /Invalid port[^]*usage: shoal peer/],
      [
        ["peer", "127.0.0.1:5000", info, ...state, "--bogus"],
        /^error: .*bogus[^]*usage: shoal peer/,
      ],
      [["peer", "127.0.0.1:5000", info, "extra"], /usage: shoal peer/],
    ];
    const runs = await Promise.all(cases.map(([args]) => shoal(args)));
    for (const [i, [args, message]] of cases.entries()) {
      const run = runs[i]!;
      const what = `shoal ${args.join(" ")}`;
      assert.equal(run.code, 2, `${what}: exit code (stderr: ${run.stderr})`);
      assert.equal(run.stdout, "", `${what}: nothing on stdout`);
      assert.match(run.stderr, message, what);
    }
    assert.equal(await exists(`${home}/data`), false, "no tracker was started");
    assert.equal(await exists(`${home}/state`), false, "no peer was started");
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("shoal reports an unreadable or invalid tracker_info as one error line and exits 1", async () => {
  const { home } = await sandbox();
  try {
    const bad = `${home}/three.txt`;
    await Deno.writeTextFile(bad, "127.0.0.1:1\n127.0.0.1:2\n127.0.0.1:3\n");
    const cases: [string[], RegExp][] = [
      [["peer", "127.0.0.1:5000", `${home}/missing.txt`], /^error: Cannot read tracker_info file/],
      [["tracker", `${home}/missing.txt`, "1"], /^error: Cannot read tracker_info file/],
      [
        ["peer", "127.0.0.1:5000", bad],
        /^error: tracker_info must list exactly 2 trackers, found 3/,
      ],
      [["tracker", bad, "2"], /error: tracker_info must list exactly 2 trackers, found 3/],
    ];
    const runs = await Promise.all(cases.map(([args]) => shoal(args)));
    for (const [i, [args, message]] of cases.entries()) {
      const run = runs[i]!;
      const what = `shoal ${args.join(" ")}`;
      assert.equal(run.code, 1, `${what}: exit code (stderr: ${run.stderr})`);
      assert.match(run.stderr, message, what);
      assert.equal(run.stderr.trimEnd().split("\n").length, 1, `${what}: ${run.stderr}`);
    }
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("shoal peer without a CA certificate says where to get one, in one line, and exits 1 before listening", async () => {
  const { home, info } = await sandbox();
  try {
    const port = freePort();
    const state = ["--state-dir", `${home}/state`];
    const cases: [string[], string][] = [
      [["peer", `127.0.0.1:${port}`, info, ...state], `${home}/ca.pem`],
      [
        ["peer", `127.0.0.1:${port}`, info, ...state, "--ca", `${home}/elsewhere.pem`],
        `${home}/elsewhere.pem`,
      ],
    ];
    for (const [args, path] of cases) {
      const run = await shoal(args);
      const what = `shoal ${args.join(" ")}`;
      assert.equal(run.code, 1, `${what}: exit code (stderr: ${run.stderr})`);
      assert.equal(
        run.stderr.trimEnd(),
        `error: no CA certificate at ${path}: copy ca.pem from a tracker's tracker_info folder, or pass --ca <file>`,
        what,
      );
    }
    // It never listened: the port is still free.
    Deno.listen({ hostname: "127.0.0.1", port }).close();
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
