/**
 * The namespace testbed itself (tests/harness/netns.ts): each direction of a
 * host's link gets its own rate, and namespaces do not outlive the process
 * that made them, whether it is stopped with SIGTERM or killed outright.
 */
import assert from "node:assert/strict";
import { inNetns, rateBits, Testbed } from "./harness/netns.ts";

const CHILD = new URL("./harness/_testbed_child.ts", import.meta.url).pathname;
const PORT = 7111;

async function namespaces(): Promise<string[]> {
  const out = await new Deno.Command("ip", { args: ["netns", "list"], stdout: "piped" }).output();
  return new TextDecoder().decode(out.stdout).split("\n").map((l) => l.split(" ")[0]!).filter(
    Boolean,
  );
}

/** Starts a child that makes a testbed; resolves with its hub's name (or a skip reason). */
async function holder(): Promise<{ child: Deno.ChildProcess; hub: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD, "hold"],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const deadline = Date.now() + 20_000;
  while (!text.includes("\n") && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  return { child, hub: text.trim() };
}

/** Sends `bytes` from host `from` to host `to`; the receiver's measured bits per second. */
async function throughput(bed: Testbed, from: string, to: string, bytes: number): Promise<number> {
  const recv = new Deno.Command(inNetns(bed.ns(to))[0]!, {
    args: [...inNetns(bed.ns(to)).slice(1), Deno.execPath(), "run", "-A", CHILD, "recv", `${PORT}`],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = recv.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("listening")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the receiver ended before listening");
    text += value;
  }
  const send = await new Deno.Command(inNetns(bed.ns(from))[0]!, {
    args: [
      ...inNetns(bed.ns(from)).slice(1),
      Deno.execPath(),
      "run",
      "-A",
      CHILD,
      "send",
      bed.addr(to),
      `${PORT}`,
      `${bytes}`,
    ],
    stderr: "inherit",
  }).output();
  assert.ok(send.success, "the sender failed");
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  await recv.status;
  const r = JSON.parse(text.slice(text.indexOf("{"))) as { bytes: number; seconds: number };
  assert.equal(r.bytes, bytes);
  return r.bytes * 8 / r.seconds;
}

Deno.test("a testbed host's uplink and downlink each hold their own rate", async () => {
  const bed = await Testbed.create("tbrt", ["a", "b"]);
  if (typeof bed === "string") {
    console.log(bed);
    return;
  }
  try {
    await bed.shape("a", { up: { rate: "20mbit" }, down: { rate: "100mbit" } });
    const up = await throughput(bed, "a", "b", 4 * 1024 * 1024);
    const down = await throughput(bed, "b", "a", 16 * 1024 * 1024);
    const near = (got: number, rate: string) => Math.abs(got / rateBits(rate) - 1) < 0.15;
    assert.ok(near(up, "20mbit"), `a's uplink moved ${(up / 1e6).toFixed(1)} Mbit/s, not 20`);
    assert.ok(near(down, "100mbit"), `a's downlink moved ${(down / 1e6).toFixed(1)} Mbit/s`);
  } finally {
    await bed.destroy();
  }
});

Deno.test("a testbed's namespaces go with SIGTERM of its maker, and a killed maker's with the next testbed", async () => {
  const { child, hub } = await holder();
  if (hub.startsWith("skipped")) {
    console.log(hub);
    child.kill("SIGKILL");
    await child.status;
    return;
  }
  assert.ok((await namespaces()).includes(hub), `${hub} exists while its maker runs`);
  child.kill("SIGTERM");
  await child.status;
  assert.ok(!(await namespaces()).includes(hub), `${hub} is gone after SIGTERM`);

  const killed = await holder();
  assert.ok((await namespaces()).includes(killed.hub));
  killed.child.kill("SIGKILL");
  await killed.child.status;
  assert.ok((await namespaces()).includes(killed.hub), "SIGKILL leaves the namespaces behind");
  const next = await Testbed.create("tbsw", ["x"]);
  if (typeof next !== "string") await next.destroy();
  const left = (await namespaces()).filter((n) => n.startsWith(killed.hub.replace(/-hub$/, "")));
  assert.deepEqual(left, [], "the next testbed swept the killed maker's namespaces");
});
