import assert from "node:assert/strict";
import { ConfigError } from "./errors.ts";
import {
  type Endpoint,
  formatEndpoint,
  parseEndpoint,
  parseTrackerInfo,
  readTrackerInfo,
} from "./tracker_info.ts";

function assertConfigError(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    assert.equal(err.name, "ConfigError");
    assert.match(err.message, message);
    return true;
  });
}

const A: Endpoint = { hostname: "127.0.0.1", port: 7000 };
const B: Endpoint = { hostname: "10.0.0.2", port: 7001 };

// --- parseEndpoint ---

Deno.test("parseEndpoint parses ip:port", () => {
  assert.deepStrictEqual(parseEndpoint("127.0.0.1:7000"), A);
  assert.deepStrictEqual(parseEndpoint("localhost:1"), { hostname: "localhost", port: 1 });
  assert.deepStrictEqual(parseEndpoint("0.0.0.0:65535"), { hostname: "0.0.0.0", port: 65535 });
});

Deno.test("parseEndpoint parses ip port separated by spaces or tabs", () => {
  assert.deepStrictEqual(parseEndpoint("127.0.0.1 7000"), A);
  assert.deepStrictEqual(parseEndpoint("127.0.0.1   7000"), A);
  assert.deepStrictEqual(parseEndpoint("127.0.0.1\t7000"), A);
});

Deno.test("parseEndpoint ignores surrounding whitespace", () => {
  assert.deepStrictEqual(parseEndpoint("  127.0.0.1:7000 \t"), A);
});

Deno.test("parseEndpoint parses a bracketed IPv6 address without the brackets", () => {
  assert.deepStrictEqual(parseEndpoint("[::1]:7000"), { hostname: "::1", port: 7000 });
  assert.deepStrictEqual(parseEndpoint("[fe80::1:2]:80"), { hostname: "fe80::1:2", port: 80 });
});

Deno.test("parseEndpoint parses a bracketed IPv6 address in the ip port form without the brackets", () => {
  assert.deepStrictEqual(parseEndpoint("[::1] 7000"), { hostname: "::1", port: 7000 });
});

Deno.test("parseEndpoint rejects an unbracketed IPv6 address with a colon port", () => {
  assertConfigError(() => parseEndpoint("::1:7000"), /Invalid address "::1:7000"/);
});

Deno.test("parseEndpoint rejects ports outside 1-65535", () => {
  assertConfigError(() => parseEndpoint("127.0.0.1:0"), /Invalid port in "127.0.0.1:0"/);
  assertConfigError(() => parseEndpoint("127.0.0.1:70000"), /Invalid port .*1-65535/);
  assertConfigError(() => parseEndpoint("127.0.0.1:65536"), /Invalid port/);
  assertConfigError(() => parseEndpoint("127.0.0.1 0"), /Invalid port/);
  assertConfigError(() => parseEndpoint("[::1]:70000"), /Invalid port/);
  assertConfigError(() => parseEndpoint("127.0.0.1:99999999999999999999"), /Invalid port/);
});

Deno.test("parseEndpoint rejects a port that is not a number", () => {
  assertConfigError(() => parseEndpoint("127.0.0.1:abc"), /Invalid address "127.0.0.1:abc"/);
  assertConfigError(() => parseEndpoint("127.0.0.1 abc"), /Invalid address/);
  assertConfigError(() => parseEndpoint("127.0.0.1:-1"), /Invalid address/);
  assertConfigError(() => parseEndpoint("127.0.0.1:80.5"), /Invalid address/);
  assertConfigError(() => parseEndpoint("127.0.0.1:"), /Invalid address/);
});

Deno.test("parseEndpoint rejects a missing port or an empty string", () => {
  assertConfigError(() => parseEndpoint("127.0.0.1"), /expected ip:port/);
  assertConfigError(() => parseEndpoint(""), /Invalid address ""/);
  assertConfigError(() => parseEndpoint(":7000"), /Invalid address/);
});

Deno.test("parseEndpoint rejects trailing tokens after ip:port", () => {
  assertConfigError(() => parseEndpoint("127.0.0.1:7000 7001"), /Invalid address/);
  assertConfigError(() => parseEndpoint("127.0.0.1 7000 7001"), /Invalid address/);
});

// --- formatEndpoint ---

Deno.test("formatEndpoint writes ip:port and brackets IPv6 addresses", () => {
  assert.equal(formatEndpoint(A), "127.0.0.1:7000");
  assert.equal(formatEndpoint({ hostname: "::1", port: 80 }), "[::1]:80");
});

Deno.test("formatEndpoint output parses back to the same endpoint", () => {
  for (const ep of [A, B, { hostname: "::1", port: 9 }, { hostname: "fe80::2", port: 65535 }]) {
    assert.deepStrictEqual(parseEndpoint(formatEndpoint(ep)), ep);
  }
});

// --- parseTrackerInfo ---

Deno.test("parseTrackerInfo reads two ip:port lines", () => {
  assert.deepStrictEqual(parseTrackerInfo("127.0.0.1:7000\n10.0.0.2:7001\n"), [A, B]);
  assert.deepStrictEqual(parseTrackerInfo("127.0.0.1:7000\n10.0.0.2:7001"), [A, B]);
});

Deno.test("parseTrackerInfo reads two ip port lines", () => {
  assert.deepStrictEqual(parseTrackerInfo("127.0.0.1 7000\n10.0.0.2\t7001\n"), [A, B]);
});

Deno.test("parseTrackerInfo keeps the order of the lines", () => {
  assert.deepStrictEqual(parseTrackerInfo("10.0.0.2:7001\n127.0.0.1:7000\n"), [B, A]);
});

Deno.test("parseTrackerInfo ignores comments and blank lines", () => {
  const text = [
    "# shoal trackers",
    "",
    "   ",
    "127.0.0.1:7000   # primary",
    "\t# indented comment",
    "10.0.0.2 7001#backup",
    "",
  ].join("\n");
  assert.deepStrictEqual(parseTrackerInfo(text), [A, B]);
});

Deno.test("parseTrackerInfo accepts CRLF line endings", () => {
  assert.deepStrictEqual(parseTrackerInfo("# t\r\n127.0.0.1:7000\r\n\r\n10.0.0.2 7001\r\n"), [
    A,
    B,
  ]);
});

Deno.test("parseTrackerInfo reads bracketed IPv6 addresses", () => {
  assert.deepStrictEqual(parseTrackerInfo("[::1]:7000\n[fe80::2]:7001 # v6\n"), [
    { hostname: "::1", port: 7000 },
    { hostname: "fe80::2", port: 7001 },
  ]);
});

Deno.test("parseTrackerInfo rejects a file with fewer or more than two trackers", () => {
  assertConfigError(() => parseTrackerInfo(""), /exactly 2 trackers, found 0/);
  assertConfigError(() => parseTrackerInfo("# only comments\n\n"), /exactly 2 trackers, found 0/);
  assertConfigError(() => parseTrackerInfo("127.0.0.1:7000\n"), /exactly 2 trackers, found 1/);
  assertConfigError(
    () => parseTrackerInfo("127.0.0.1:7000\n10.0.0.2:7001\n10.0.0.3:7002\n"),
    /exactly 2 trackers, found 3/,
  );
});

Deno.test("parseTrackerInfo reports the line number of a bad port", () => {
  assertConfigError(
    () => parseTrackerInfo("127.0.0.1:7000\n10.0.0.2:0\n"),
    /^tracker_info line 2: Invalid port in "10.0.0.2:0"/,
  );
  assertConfigError(
    () => parseTrackerInfo("127.0.0.1:70000\n10.0.0.2:7001\n"),
    /^tracker_info line 1: Invalid port/,
  );
  assertConfigError(
    () => parseTrackerInfo("127.0.0.1:7000\n10.0.0.2:abc\n"),
    /^tracker_info line 2: Invalid address "10.0.0.2:abc"/,
  );
});

Deno.test("parseTrackerInfo counts comment, blank and CRLF lines in error line numbers", () => {
  assertConfigError(
    () => parseTrackerInfo("# header\n\n127.0.0.1:7000\n   \n# x\n10.0.0.2 70000\n"),
    /^tracker_info line 6: /,
  );
  assertConfigError(
    () => parseTrackerInfo("# header\r\n\r\n127.0.0.1:7000\r\nnonsense\r\n10.0.0.2:7001\r\n"),
    /^tracker_info line 4: Invalid address "nonsense"/,
  );
});

Deno.test("parseTrackerInfo reports the first bad line before counting trackers", () => {
  assertConfigError(() => parseTrackerInfo("bad\n"), /^tracker_info line 1: /);
});

// --- readTrackerInfo ---

Deno.test("readTrackerInfo reads and parses a file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/tracker_info`;
    await Deno.writeTextFile(path, "127.0.0.1:7000\n10.0.0.2 7001\n");
    assert.deepStrictEqual(await readTrackerInfo(path), [A, B]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readTrackerInfo throws ConfigError naming a missing file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/missing`;
    await assert.rejects(readTrackerInfo(path), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /^Cannot read tracker_info file .*missing/);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
