/**
 * The scale benchmark's load generator against a real tracker pair, small:
 * 200 peers in two processes stay logged in and alive, the downloaders'
 * reports and lookups are answered, and the probe's writes succeed.
 */
import assert from "node:assert/strict";
import type { ScaleResult } from "../bench/_scale_result.ts";
import { ROOT } from "./harness/process.ts";

Deno.test("bench:scale keeps 200 peers logged in and alive while the probe writes", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "bench/tracker_scale_bench.ts",
      "--quick",
      "--peers",
      "200",
      "--processes",
      "2",
      "--seconds",
      "2",
      "--iterations",
      "1000",
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  const last = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!;
  const r = JSON.parse(last) as ScaleResult;
  assert.equal(r.loggedIn, 200, stderr);
  assert.deepEqual([r.failedLogins, r.stale, r.closed, r.refused, r.writeErrors], [0, 0, 0, 0, 0]);
  assert.ok(r.online !== null && r.online >= 200, `online: ${r.online}`);
  assert.ok(r.write.count > 0, "the probe made no write");
  assert.ok((r.byCmd.report_pieces ?? 0) > 0 && (r.byCmd.lookup_file ?? 0) > 0, last);
  assert.ok((r.byCmd.watch ?? 0) > 0, last);
});
