/**
 * The web API and /metrics of real peers and trackers, over real sockets:
 * the whole story from two accounts to a verified download driven only by
 * JSON, followed by Server-Sent Events, with the metrics of both peers and
 * of the tracker parsed as Prometheus text; and every way a request is
 * refused (no secret, another origin, another host, bad arguments).
 */
import assert from "node:assert/strict";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { sha1OfFile, writeRandomFile } from "./harness/files.ts";
import { Swarm } from "./harness/swarm.ts";
import { waitFor } from "./harness/wait.ts";
import { WebClient } from "./harness/web_client.ts";

const MiB = 1024 * 1024;

type Family = {
  name: string;
  type: string;
  metrics: { value?: string; labels?: Record<string, string>; count?: string }[];
};

/** The value of a metric (with `labels`), from text parsed by an npm Prometheus parser. */
function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  const families = parsePrometheusTextFormat(text) as Family[];
  const f = families.find((x) => x.name === name);
  assert.ok(f, `${name} is in the metrics`);
  const m = f.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  assert.ok(m, `${name} ${JSON.stringify(labels)} is in the metrics`);
  return Number(m.value ?? m.count);
}

Deno.test("the JSON API alone takes two peers from new accounts to a verified download, and the metrics move", async () => {
  await Swarm.run(async (s) => {
    const alicePeer = await s.start("alice");
    const bobPeer = await s.start("bob");
    const alice = await WebClient.of(alicePeer);
    const bob = await WebClient.of(bobPeer);
    assert.match(alice.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{32}$/);
    assert.notEqual(alice.secret, bob.secret);

    await alice.ok("create_user", { user_id: "alice", passwd: "pw-alice" });
    assert.equal((await alice.ok("login", { user_id: "alice", passwd: "pw-alice" })).user, "alice");
    await alice.ok("create_group", { group_id: "team" });
    await bob.ok("create_user", { user_id: "bob", passwd: "pw-bob" });
    await bob.ok("login", { user_id: "bob", passwd: "pw-bob" });
    // The shell of the same peer shares the session: a login on the page is the peer's.
    assert.match(await bobPeer.ok("whoami"), /^logged in as bob/);
    await bob.ok("join_group", { group_id: "team" });
    assert.deepEqual((await alice.ok("list_requests", { group_id: "team" })).requests, ["bob"]);
    await alice.ok("accept_request", { group_id: "team", user_id: "bob" });
    const groups = (await bob.ok("list_groups")).groups as { group: string; member: boolean }[];
    assert.deepEqual(groups.map((g) => [g.group, g.member]), [["team", true]]);

    const src = `${await s.mkdir("src")}/data.bin`;
    await writeRandomFile(src, 24 * MiB + 123);
    const sha1 = await sha1OfFile(src);
    await alice.ok("upload_file", { file_path: src, group_id: "team" });
    const files = (await bob.ok("list_files", { group_id: "team" })).files as {
      name: string;
      size: number;
      sha1: string;
    }[];
    assert.deepEqual(files.map((f) => [f.name, f.size, f.sha1]), [[
      "data.bin",
      24 * MiB + 123,
      sha1,
    ]]);

    const dest = await s.mkdir("dest");
    const before = await bob.metrics();
    assert.equal(metric(before, "shoal_peer_received_bytes_total"), 0);
    const events = bob.followState((st) =>
      (st.downloads as { state: string }[]).some((d) => d.state === "C")
    );
    await bob.ok("download_file", {
      group_id: "team",
      file_name: "data.bin",
      destination_dir: dest,
    });
    const states = await events;
    const last = (states.at(-1)!.downloads as Record<string, unknown>[])[0]!;
    assert.equal(last.percent, 100);
    assert.equal(last.sha1, sha1);
    assert.equal(last.path, `${dest}/data.bin`);
    assert.equal(await sha1OfFile(`${dest}/data.bin`), sha1);
    assert.equal((last.map as number[]).every((c) => c === 1), true);

    const after = await bob.metrics();
    assert.equal(metric(after, "shoal_peer_received_bytes_total"), 24 * MiB + 123);
    assert.equal(metric(after, "shoal_peer_pieces_verified_total"), 49);
    assert.equal(metric(after, "shoal_peer_pieces_rejected_total"), 0);
    assert.equal(metric(after, "shoal_peer_downloads", { state: "complete" }), 1);
    assert.equal(metric(after, "shoal_peer_logged_in"), 1);
    // The serving side's counters come from its workers about every second.
    await waitFor(
      async () => metric(await alice.metrics(), "shoal_peer_sent_bytes_total") >= 24 * MiB + 123,
      {
        what: "alice's sent bytes to reach the file's size",
        timeoutMs: 10_000,
      },
    );
    assert.ok(metric(await alice.metrics(), "shoal_peer_pieces_sent_total") >= 49);

    // The primary tracker's status page and metrics saw the same story.
    const log = s.pair.tracker(1).stderr.text;
    const origin = /Status page and \/metrics on "?(http:\/\/[^\s"]+)/.exec(log)?.[1];
    assert.ok(origin, `tracker 1 says where its status page is:\n${log}`);
    const status = await (await fetch(`${origin}/status.json`)).json();
    assert.equal(status.role, "primary");
    assert.deepEqual([status.users, status.groups, status.files], [2, 1, 1]);
    assert.equal(status.other.connected, true);
    const page = await (await fetch(`${origin}/`)).text();
    assert.match(page, /<th>role<\/th><td>primary<\/td>/);
    const tm = await (await fetch(`${origin}/metrics`)).text();
    assert.equal(metric(tm, "shoal_tracker_primary"), 1);
    assert.equal(metric(tm, "shoal_tracker_users"), 2);
    assert.ok(metric(tm, "shoal_tracker_requests_total", { cmd: "login", ok: "true" }) >= 2);
    assert.ok(metric(tm, "shoal_tracker_requests_total", { cmd: "lookup_file", ok: "true" }) >= 1);
    const families = parsePrometheusTextFormat(tm) as Family[];
    assert.equal(
      families.find((f) => f.name === "shoal_tracker_request_seconds")?.type,
      "HISTOGRAM",
    );
    assert.ok(metric(tm, "shoal_tracker_peers_online") >= 2);
    assert.ok(metric(tm, "shoal_tracker_oplog_entries") >= 1);
  }, { pair: { trackerArgs: ["--http", "127.0.0.1:0"] } });
});

Deno.test("the web API refuses no secret, another origin, another host and bad arguments, each with its status", async () => {
  await Swarm.run(async (s) => {
    const peer = await s.start("carol");
    const web = await WebClient.of(peer);
    const noSecret = await web.call("whoami", {}, {});
    assert.equal(noSecret.status, 401);
    assert.equal(noSecret.body.code, "secret");
    const wrong = await web.call("whoami", {}, { authorization: "Bearer 0000" });
    assert.equal(wrong.status, 401);
    const evil = await web.call("create_user", { user_id: "x", passwd: "y" }, {
      authorization: `Bearer ${web.secret}`,
      origin: "http://evil.example",
    });
    assert.equal(evil.status, 403);
    assert.equal(evil.body.code, "origin");
    assert.match(String(evil.body.error), /other origins/);
    // A DNS-rebinding page reaches the port under another name: its Host gives it away.
    assert.match(
      await rawGet(web.origin, "/api/state", "rebind.example:80", web.secret),
      /^HTTP\/1\.1 403/,
    );
    assert.match(
      await rawGet(web.origin, "/api/state", new URL(web.origin).host, web.secret),
      /^HTTP\/1\.1 200/,
    );

    const cases: [string, unknown, number, string][] = [
      ["create_group", {}, 400, "usage"],
      ["create_group", { group_id: 7 }, 400, "usage"],
      ["create_group", { group_id: "bad id!" }, 400, "usage"],
      ["no_such_command", {}, 404, "unknown"],
      ["whoami", {}, 403, "login"],
      ["download_file", { group_id: "g", file_name: "f" }, 403, "login"],
      ["wait", { seconds: "-1" }, 400, "usage"],
    ];
    for (const [cmd, body, status, code] of cases) {
      const a = await web.call(cmd, body as Record<string, unknown>);
      assert.equal(a.status, status, `${cmd} ${JSON.stringify(body)}: ${JSON.stringify(a.body)}`);
      assert.equal(a.body.ok, false);
      assert.equal(a.body.code, code, cmd);
      assert.equal(typeof a.body.error, "string");
    }
    await web.ok("create_user", { user_id: "carol", passwd: "pw" });
    const again = await web.call("create_user", { user_id: "carol", passwd: "pw" });
    assert.equal(again.status, 409);
    assert.match(String(again.body.error), /carol/);
    const notJson = await fetch(`${web.origin}/api/login`, {
      method: "POST",
      headers: { authorization: `Bearer ${web.secret}` },
      body: "{nope",
    });
    assert.equal(notJson.status, 400);
    assert.equal((await notJson.json()).error, "the body is not JSON");
    assert.equal((await web.get("/api/login")).status, 405);
    const big = await fetch(`${web.origin}/api/login`, {
      method: "POST",
      headers: { authorization: `Bearer ${web.secret}` },
      body: JSON.stringify({ user_id: "x".repeat(100_000) }),
    });
    assert.equal(big.status, 413);
    await big.body?.cancel();

    // The page: the secret in the URL becomes a cookie of this server and leaves the address bar.
    const open = await fetch(web.url, { redirect: "manual" });
    assert.equal(open.status, 303);
    assert.equal(open.headers.get("location"), "/");
    const cookie = open.headers.get("set-cookie") ?? "";
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    const page = await fetch(`${web.origin}/`, { headers: { cookie: cookie.split(";")[0]! } });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>shoal<\/title>/);
    const bare = await fetch(`${web.origin}/`);
    assert.equal(bare.status, 401);
    await bare.body?.cancel();
    // The shell still answers as before next to the web server.
    assert.match(await peer.error("whoami"), /not logged in/);
  });
});

/** A GET with a Host header of our choosing, on a raw TCP connection; the status line and headers. */
async function rawGet(origin: string, path: string, host: string, secret: string): Promise<string> {
  const u = new URL(origin);
  const conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port) });
  try {
    const req = `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${secret}\r\n` +
      "Connection: close\r\n\r\n";
    await conn.write(new TextEncoder().encode(req));
    let text = "";
    const buf = new Uint8Array(4096);
    for (let i = 0; i < 100 && !text.includes("\r\n\r\n"); i++) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    return text;
  } finally {
    conn.close();
  }
}
