/**
 * A client of a peer's web server, as a script or a monitoring tool would be:
 * the URL from the peer's start (its stderr), the secret as a bearer token,
 * JSON commands, the event stream, /metrics.
 */
import assert from "node:assert/strict";
import type { PeerShell } from "./shell.ts";
import { waitFor } from "./wait.ts";

/** An answer of the API. */
export interface ApiAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** A peer's web server seen from outside. */
export class WebClient {
  /** The printed URL: `http://127.0.0.1:<port>/?token=<secret>`. */
  readonly url: string;
  readonly origin: string;
  readonly secret: string;

  constructor(url: string) {
    this.url = url;
    const u = new URL(url);
    this.origin = u.origin;
    this.secret = u.searchParams.get("token") ?? "";
  }

  /** The web server of a running peer, from the URL it printed. */
  static async of(sh: PeerShell): Promise<WebClient> {
    const url = await waitFor(() => /web UI: (\S+)/.exec(sh.stderr)?.[1], {
      what: "the web UI's URL on the peer's stderr",
      timeoutMs: 20_000,
    });
    return new WebClient(url);
  }

  /** POST /api/<cmd> with `body` (and the secret unless `headers` say otherwise). */
  async call(
    cmd: string,
    body: Record<string, unknown> = {},
    headers: Record<string, string> = { authorization: `Bearer ${this.secret}` },
  ): Promise<ApiAnswer> {
    const res = await fetch(`${this.origin}/api/${cmd}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  }

  /** A command that must succeed; its answer. */
  async ok(cmd: string, body: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const a = await this.call(cmd, body);
    assert.equal(a.status, 200, `${cmd}: ${JSON.stringify(a.body)}`);
    assert.equal(a.body.ok, true);
    return a.body;
  }

  /** GET a path with the secret. */
  get(path: string, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${this.origin}${path}`, {
      headers: { authorization: `Bearer ${this.secret}`, ...headers },
    });
  }

  /** /metrics as text. */
  async metrics(): Promise<string> {
    const res = await this.get("/metrics");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
    return await res.text();
  }

  /**
   * Reads `/api/events` until `until` accepts a `state` event's data (or
   * `timeoutMs` passes); returns every state seen.
   */
  async followState(
    until: (state: Record<string, unknown>) => boolean,
    timeoutMs = 60_000,
  ): Promise<Record<string, unknown>[]> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), timeoutMs);
    const seen: Record<string, unknown>[] = [];
    try {
      const res = await this.get("/api/events", {});
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      ac.signal.addEventListener("abort", () => reader.cancel().catch(() => {}));
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the event stream ended after ${seen.length} states`);
        buf += value;
        for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
          const ev = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const name = /^event: (.*)$/m.exec(ev)?.[1];
          const data = /^data: (.*)$/m.exec(ev)?.[1];
          if (name !== "state" || data === undefined) continue;
          const state = JSON.parse(data);
          seen.push(state);
          if (until(state)) {
            await reader.cancel();
            return seen;
          }
        }
      }
    } catch (err) {
      if (ac.signal.aborted) {
        throw new Error(
          `no state as wanted within ${timeoutMs} ms; last: ${JSON.stringify(seen.at(-1))}`,
        );
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }
}
