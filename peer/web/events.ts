/**
 * Live updates for the page as Server-Sent Events: the peer's state (who is
 * logged in, the downloads, the shares) whenever it changes, checked about
 * every second and after every command, and each notice the peer prints.
 */
import type { Data } from "../commands/command.ts";

/** How often the state is looked at while someone listens. */
export const STATE_MS = 1000;
/** A comment line this often keeps proxies and the browser from closing an idle stream. */
export const KEEPALIVE_MS = 15_000;
/** The most pages listening at once; more are refused (503). */
export const MAX_LISTENERS = 16;

const encoder = new TextEncoder();

/** The listeners of one peer's events. */
export class EventHub {
  #listeners = new Set<ReadableStreamDefaultController<Uint8Array>>();
  #state: () => Data;
  #last = "";
  #timer: ReturnType<typeof setInterval> | undefined;
  #keepalive: ReturnType<typeof setInterval> | undefined;

  /** `state` gives the current state (`GET /api/state`'s answer). */
  constructor(state: () => Data) {
    this.#state = state;
  }

  /** Whether another page may listen. */
  get full(): boolean {
    return this.#listeners.size >= MAX_LISTENERS;
  }

  /** A new event stream: the current state first, then every change. */
  stream(): ReadableStream<Uint8Array> {
    let me: ReadableStreamDefaultController<Uint8Array>;
    return new ReadableStream<Uint8Array>({
      start: (c) => {
        me = c;
        this.#listeners.add(c);
        c.enqueue(frame("state", this.#stateJson()));
        this.#timers();
      },
      cancel: () => {
        this.#listeners.delete(me);
        this.#timers();
      },
    });
  }

  /** A line the peer printed (a download finished, a share withdrawn). */
  notice(line: string): void {
    this.#send(frame("notice", JSON.stringify({ line })));
  }

  /** Sends the state if it changed (after a command, and every {@linkcode STATE_MS}). */
  changed(): void {
    if (this.#listeners.size === 0) return;
    const prev = this.#last;
    const now = this.#stateJson();
    if (now !== prev) this.#send(frame("state", now));
  }

  /** Ends every stream. */
  close(): void {
    for (const c of this.#listeners) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
    this.#listeners.clear();
    this.#timers();
  }

  #stateJson(): string {
    this.#last = JSON.stringify(this.#state());
    return this.#last;
  }

  #send(bytes: Uint8Array): void {
    for (const c of this.#listeners) {
      try {
        c.enqueue(bytes);
      } catch {
        this.#listeners.delete(c);
      }
    }
  }

  /** Timers run only while someone listens. */
  #timers(): void {
    if (this.#listeners.size > 0 && this.#timer === undefined) {
      this.#timer = setInterval(() => this.changed(), STATE_MS);
      this.#keepalive = setInterval(
        () => this.#send(encoder.encode(": keepalive\n\n")),
        KEEPALIVE_MS,
      );
    } else if (this.#listeners.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      clearInterval(this.#keepalive);
      this.#timer = this.#keepalive = undefined;
    }
  }
}

/** One event: `event: <name>` and its JSON on one `data:` line. */
export function frame(event: string, json: string): Uint8Array {
  return encoder.encode(`event: ${event}\ndata: ${json}\n\n`);
}
