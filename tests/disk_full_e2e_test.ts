/**
 * A download whose destination runs out of space ends as [F] with a clear
 * reason, leaves nothing under the final name, and the peer keeps serving.
 * Needs the right to mount a small tmpfs (root); skipped with a message otherwise.
 */
import assert from "node:assert/strict";
import { assertSameBytes, exists, writeRandomFile } from "./harness/files.ts";
import { GROUP, Swarm } from "./harness/swarm.ts";

const MiB = 1024 * 1024;

async function mountTmpfs(dir: string, size: string): Promise<boolean> {
  const out = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir],
    stdout: "null",
    stderr: "null",
  }).output().catch(() => null);
  return out?.success === true;
}

Deno.test("a download into a full filesystem fails cleanly and the peer keeps serving", async () => {
  const small = await Deno.makeTempDir({ prefix: "shoal_small_" });
  try {
    if (!(await mountTmpfs(small, "4m"))) {
      console.log("skipped: cannot mount a tmpfs here (needs root)");
      return;
    }
    try {
      await Swarm.run(async (s) => {
        const alice = await s.member("alice");
        const bob = await s.member("bob");
        const carol = await s.member("carol");
        const src = await s.mkdir("src");
        const ok = await s.mkdir("ok");
        await writeRandomFile(`${src}/big.bin`, 12 * MiB + 5);
        await alice.ok(`upload_file ${src}/big.bin ${GROUP}`);
        await bob.ok(`download_file ${GROUP} big.bin ${small}`);
        const summary = await bob.run("wait", 60_000);
        const line = summary.find((l) => l.startsWith(`[F] [${GROUP}] big.bin`));
        assert.ok(line, summary.join("\n"));
        assert.match(line!, /No space left on device/);
        assert.equal(await exists(`${small}/big.bin`), false, "nothing under the final name");
        assert.equal(await exists(`${small}/big.bin.part`), false, "the .part file is removed");
        // bob still serves what he has: carol fetches another file from bob.
        await writeRandomFile(`${src}/small.bin`, 3 * MiB + 1);
        await bob.ok(`upload_file ${src}/small.bin ${GROUP}`);
        await carol.ok(`download_file ${GROUP} small.bin ${ok}`);
        const done = await carol.run("wait", 60_000);
        assert.ok(done.includes(`[C] [${GROUP}] small.bin`), done.join("\n"));
        await assertSameBytes(`${ok}/small.bin`, `${src}/small.bin`);
      });
    } finally {
      await new Deno.Command("umount", { args: [small] }).output();
    }
  } finally {
    await Deno.remove(small, { recursive: true });
  }
});
