/**
 * For tests/testbed_test.ts: makes a testbed of two hosts, prints its hub
 * namespace's name, then waits to be killed (or, with `blast <bytes>`, acts
 * as one end of a timed transfer; see below).
 *
 * `deno run -A _testbed_child.ts hold`: make the testbed and wait.
 * `deno run -A _testbed_child.ts recv <port>`: accept one TCP connection, read
 *   to its end, print the bytes and seconds as JSON.
 * `deno run -A _testbed_child.ts send <host> <port> <bytes>`: send that many bytes.
 */
import { Testbed } from "./netns.ts";

const [mode, ...rest] = Deno.args;
if (mode === "hold") {
  const bed = await Testbed.create("tbch", ["a", "b"]);
  if (typeof bed === "string") {
    console.log(bed);
    Deno.exit(0);
  }
  console.log(bed.hub);
  await new Promise(() => {});
} else if (mode === "recv") {
  const listener = Deno.listen({ hostname: "0.0.0.0", port: Number(rest[0]) });
  console.log("listening");
  const conn = await listener.accept();
  const buf = new Uint8Array(256 * 1024);
  let got = 0;
  let t0 = 0;
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    if (t0 === 0) t0 = performance.now();
    got += n;
  }
  console.log(JSON.stringify({ bytes: got, seconds: (performance.now() - t0) / 1000 }));
  listener.close();
} else if (mode === "send") {
  const conn = await Deno.connect({ hostname: rest[0]!, port: Number(rest[1]) });
  const total = Number(rest[2]);
  const chunk = new Uint8Array(256 * 1024);
  for (let sent = 0; sent < total;) {
    sent += await conn.write(chunk.subarray(0, Math.min(chunk.length, total - sent)));
  }
  conn.close();
}
