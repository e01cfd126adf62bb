/**
 * One load process of the scale benchmark: `deno run -A bench/_scale_child.ts
 * <plan.json>`. It logs its peers in at once (bench/_scale_peers.ts), then
 * obeys one word a line on stdin and answers with one JSON line each on
 * stdout:
 *
 * - `setup`: creates its groups → `{"t":"setup"}`
 * - `go`: starts the downloads → `{"t":"go"}`
 * - `mark`: starts a counting window → `{"t":"mark"}`
 * - `stats`: → `{"t":"stats","stats":PeerStats}`
 * - `quit` (or the end of stdin): closes everything and exits.
 *
 * While logging in it prints `{"t":"progress","loggedIn":n}` now and then and
 * `{"t":"loggedIn","stats":PeerStats}` at the end; a failed command prints
 * `{"t":"error","error":"..."}`.
 */
import { describeError } from "../shared/errors.ts";
import type { ScalePlan } from "./_scale_plan.ts";
import { ScalePeers } from "./_scale_peers.ts";

/** Progress lines while logging in, at most this often. */
const PROGRESS_MS = 1000;

const encoder = new TextEncoder();

function say(msg: Record<string, unknown>): void {
  Deno.stdout.writeSync(encoder.encode(JSON.stringify(msg) + "\n"));
}

/** The lines of stdin, until its end. */
async function* stdinLines(): AsyncGenerator<string> {
  let partial = "";
  for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    const parts = (partial + chunk).split("\n");
    partial = parts.pop()!;
    yield* parts;
  }
  if (partial !== "") yield partial;
}

async function main(): Promise<void> {
  const plan = JSON.parse(await Deno.readTextFile(Deno.args[0]!)) as ScalePlan;
  const peers = new ScalePeers(plan, await Deno.readTextFile(plan.caPath));
  let last = 0;
  const loggedIn = peers.login((n) => {
    const now = performance.now();
    if (now - last < PROGRESS_MS) return;
    last = now;
    say({ t: "progress", loggedIn: n });
  }).then(() => say({ t: "loggedIn", stats: peers.stats() }));
  try {
    for await (const line of stdinLines()) {
      const word = line.trim();
      try {
        if (word === "quit") break;
        if (word === "setup") {
          await loggedIn;
          await peers.setupGroups();
          say({ t: "setup" });
        } else if (word === "go") {
          peers.startDownloads();
          say({ t: "go" });
        } else if (word === "mark") {
          peers.mark();
          say({ t: "mark" });
        } else if (word === "stats") {
          say({ t: "stats", stats: peers.stats() });
        } else if (word !== "") {
          say({ t: "error", error: `unknown command ${word}` });
        }
      } catch (err) {
        say({ t: "error", error: describeError(err) });
      }
    }
  } finally {
    await peers.close();
  }
}

if (import.meta.main) {
  await main();
  Deno.exit(0);
}
