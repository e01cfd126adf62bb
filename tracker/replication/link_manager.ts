/**
 * Keeps one authenticated link to the other tracker: dials it while there is
 * none, takes accepted links, keeps the one tracker 1 dialed when both come
 * up, sends heartbeats and closes a link that misses three. It decodes what
 * arrives (and reassembles fragments); what the messages mean is the node's
 * business ({@linkcode LinkEvents}).
 */
import { describeError } from "../../shared/errors.ts";
import { log } from "../../shared/log.ts";
import type { Endpoint } from "../../shared/tracker_info.ts";
import { dialLink, type Link } from "./link.ts";
import { Reassembly } from "./link_chunks.ts";
import { decodeAssembled, decodeLinkMessage, type LinkMessage } from "./link_messages.ts";
import { send } from "./link_send.ts";
import type { TrackerView } from "./roles.ts";

const logger = log("tracker", "replication");

/** Dial interval while the node wants the link back quickly (a secondary in its grace period). */
const FAST_DIAL_MS = 100;

/** A link in use, with what the node tracks about the other tracker over it. */
export interface ActiveLink extends Link {
  /** The other tracker's last `state` or `hb`. */
  other: TrackerView | null;
  lastSeen: number;
  /** Catch-up is over: the link now carries live ops. */
  established: boolean;
  /** Primary side: the secondary is caught up and every new op goes to it. */
  followerLive: boolean;
  /** Primary side: highest index the secondary has persisted. */
  acked: number;
  timer: ReturnType<typeof setInterval>;
  /** The fragmented message arriving on this link, if any. */
  fragments: Reassembly;
}

/** What the node does with the link. */
export interface LinkEvents {
  /** This tracker's state, sent at the start of a link and in every heartbeat. */
  view(): TrackerView;
  /** True while a lost link should be redialed quickly. */
  fastDial(): boolean;
  /** A message arrived on the link in use; throwing closes the link. */
  message(l: ActiveLink, msg: LinkMessage): void;
  /** The link in use is gone (`replaced`: by a duplicate the other side also keeps). */
  lost(l: ActiveLink, replaced: boolean): void;
  /** A dial failed. */
  dialFailed(err: unknown): void;
}

/** Options for {@linkcode LinkManager}. */
export interface LinkManagerOptions {
  me: 1 | 2;
  other: Endpoint;
  key: CryptoKey;
  /** The CA the other tracker's certificate must chain to. */
  caPem: string;
  /** This tracker's certificate and key, shown to the other when dialing. */
  identity?: { cert: string; key: string };
  heartbeatMs: number;
  /** A dial that hangs gives up after this long. */
  dialTimeoutMs: number;
}

/** The link to the other tracker. */
export class LinkManager {
  current: ActiveLink | null = null;
  #opts: LinkManagerOptions;
  #events: LinkEvents;
  #stopped = false;
  #wake: (() => void) | null = null;
  #abort = new AbortController();
  #loop: Promise<void> | null = null;

  constructor(opts: LinkManagerOptions, events: LinkEvents) {
    this.#opts = opts;
    this.#events = events;
  }

  /** Starts dialing whenever there is no link. */
  start(): void {
    this.#loop = this.#dialLoop();
  }

  /** Stops dialing and closes the link. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    this.#wake?.();
    this.current?.conn.close();
    await this.#loop;
  }

  /** Dials again now instead of at the next interval. */
  wake(): void {
    this.#wake?.();
  }

  /** Takes an authenticated link (dialed or accepted) into use; keeps the one tracker 1 dialed. */
  adopt(link: Link): void {
    if (this.#stopped) {
      link.conn.close();
      return;
    }
    const cur = this.current;
    if (cur) {
      if (link.dialer !== 1 || cur.dialer === 1) {
        link.conn.close();
        return;
      }
      this.current = null;
      clearInterval(cur.timer);
      cur.conn.close();
      this.#events.lost(cur, true);
    }
    const active: ActiveLink = {
      ...link,
      other: null,
      lastSeen: Date.now(),
      established: false,
      followerLive: false,
      acked: 0,
      timer: setInterval(() => this.#heartbeat(active), this.#opts.heartbeatMs),
      fragments: new Reassembly(),
    };
    this.current = active;
    send(active.conn, { t: "state", ...this.#events.view() });
    this.#run(active);
  }

  async #dialLoop(): Promise<void> {
    while (!this.#stopped) {
      if (!this.current) {
        try {
          const link = await dialLink(this.#opts.other, this.#opts.me, this.#opts.key, {
            signal: this.#abort.signal,
            timeoutMs: this.#opts.dialTimeoutMs,
            caPem: this.#opts.caPem,
            identity: this.#opts.identity,
          });
          this.adopt(link);
        } catch (err) {
          if (this.#stopped) break;
          this.#events.dialFailed(err);
        }
      }
      const wait = this.#events.fastDial() ? FAST_DIAL_MS : this.#opts.heartbeatMs;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, wait);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = null;
    }
  }

  async #run(l: ActiveLink): Promise<void> {
    try {
      for await (const raw of l.messages) {
        if (this.current !== l) break;
        l.lastSeen = Date.now();
        const msg = decodeLinkMessage(raw);
        if (msg.t !== "fragment") this.#events.message(l, msg);
        else {
          const text = l.fragments.push(msg);
          if (text !== null) this.#events.message(l, decodeAssembled(text));
        }
      }
    } catch (err) {
      logger.warn("Tracker link failed: {error}", { error: describeError(err) });
    } finally {
      clearInterval(l.timer);
      l.conn.close();
      if (this.current === l) {
        this.current = null;
        if (!this.#stopped) this.#events.lost(l, false);
      }
    }
  }

  #heartbeat(l: ActiveLink): void {
    if (Date.now() - l.lastSeen > 3 * this.#opts.heartbeatMs) {
      logger.warn("No heartbeat from tracker {other} for 3 intervals: link dead", {
        other: 3 - this.#opts.me,
      });
      l.conn.close();
      return;
    }
    send(l.conn, { t: "hb", ...this.#events.view() });
  }
}
