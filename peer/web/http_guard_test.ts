import assert from "node:assert/strict";
import { cookieValue, hostsFor, refusal, secretCookie } from "./http_guard.ts";

const config = { secret: "s3cret", hosts: hostsFor("127.0.0.1", 8080), cookie: "shoal_8080" };

function req(headers: Record<string, string>, path = "/api/state"): Request {
  return new Request(`http://127.0.0.1:8080${path}`, { headers });
}

Deno.test("refusal() lets a request with this server's host and the secret through", () => {
  assert.equal(
    refusal(req({ host: "127.0.0.1:8080", authorization: "Bearer s3cret" }), config),
    null,
  );
  assert.equal(
    refusal(req({ host: "localhost:8080", cookie: "a=b; shoal_8080=s3cret" }), config),
    null,
  );
  assert.equal(
    refusal(
      req({ host: "127.0.0.1:8080", origin: "http://127.0.0.1:8080", cookie: "shoal_8080=s3cret" }),
      config,
    ),
    null,
  );
});

Deno.test("refusal() refuses a missing or wrong secret with 401", () => {
  const cases: Record<string, string>[] = [
    { host: "127.0.0.1:8080" },
    { host: "127.0.0.1:8080", authorization: "Bearer s3cre" },
    { host: "127.0.0.1:8080", authorization: "Bearer s3cretX" },
    { host: "127.0.0.1:8080", cookie: "shoal_8081=s3cret" },
    { host: "127.0.0.1:8080", cookie: "shoal_8080=" },
  ];
  for (const headers of cases) {
    assert.equal(refusal(req(headers), config)?.status, 401, JSON.stringify(headers));
  }
});

Deno.test("refusal() refuses another host (DNS rebinding) and another origin with 403", () => {
  const cases: Record<string, string>[] = [
    { host: "evil.example:8080", authorization: "Bearer s3cret" },
    { host: "127.0.0.1:8081", authorization: "Bearer s3cret" },
    { host: "127.0.0.1:8080", origin: "http://evil.example", cookie: "shoal_8080=s3cret" },
    { host: "127.0.0.1:8080", origin: "http://127.0.0.1:9999", cookie: "shoal_8080=s3cret" },
    { host: "127.0.0.1:8080", origin: "null", cookie: "shoal_8080=s3cret" },
    { host: "127.0.0.1:8080", "sec-fetch-site": "cross-site", cookie: "shoal_8080=s3cret" },
    { host: "127.0.0.1:8080", "sec-fetch-site": "same-site", cookie: "shoal_8080=s3cret" },
  ];
  for (const headers of cases) {
    assert.equal(refusal(req(headers), config)?.status, 403, JSON.stringify(headers));
  }
});

Deno.test("refusal() takes the secret from the page's URL once, in place of the cookie", () => {
  const r = req({ host: "127.0.0.1:8080" }, "/?token=s3cret");
  assert.equal(refusal(r, config, "s3cret"), null);
  assert.equal(refusal(r, config, "wrong")?.status, 401);
});

Deno.test("secretCookie() is HttpOnly and SameSite=Strict, and cookieValue() reads it back", () => {
  const c = secretCookie(config);
  assert.match(c, /HttpOnly/);
  assert.match(c, /SameSite=Strict/);
  assert.equal(cookieValue(c.split(";")[0]!, "shoal_8080"), "s3cret");
  assert.equal(cookieValue("x=1; y=2", "shoal_8080"), null);
});
