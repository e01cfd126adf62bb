/**
 * Every message of the link between the two trackers, as one discriminated
 * union both sides import, and the one decoder that checks a received frame
 * against it. A malformed or unknown message is a {@linkcode LinkMessageError}
 * with a one-line message; the link closes with it.
 *
 * The handshake (link.ts): `link_hello`, `link_welcome`, `link_confirm`.
 * Roles (roles.ts): `state` when a link starts, `hb` every heartbeat.
 * Catch-up: the secondary's `sync`; the primary's `entries` batches or a
 * `snapshot`, then `synced`; live `entries` after; the secondary's `ack`s.
 * A partition merge: the secondary's `merge` batches, the primary's `merged`.
 * A message too long for one frame travels as `fragment`s of its JSON text.
 * `error` is what a connection says before it hangs up on a bad frame.
 */
import type { Message } from "../../shared/frame.ts";
import type { EpochRuns } from "../state/merge.ts";
import type { LogEntry } from "../state/ops.ts";
import type { StateSnapshot } from "../state/records.ts";
import type { Role, TrackerView } from "./roles.ts";
import { parseRuns, parseTail } from "./merge_wire.ts";
import { checkEntries, checkSnapshot, isIndex, isRecord, LinkMessageError } from "./wire_checks.ts";

export { LinkMessageError };

/** Longest nonce a handshake message may carry. */
const MAX_NONCE = 64;
/** Longest error text kept from the other side. */
const MAX_ERROR = 200;

/** Dialer → acceptor: who it is, a fresh nonce and a MAC over them. */
export type HelloMessage = { t: "link_hello"; n: 1 | 2; nonce: string; ts: number; mac: string };
/** Acceptor → dialer: proof it knows the key too, over the dialer's nonce and its own. */
export type WelcomeMessage = { t: "link_welcome"; n: 1 | 2; nonce: string; mac: string };
/** Dialer → acceptor: a MAC over the acceptor's nonce. */
export type ConfirmMessage = { t: "link_confirm"; mac: string };
/** What a tracker says of itself: `state` when a link starts, `hb` at every heartbeat. */
export type ViewMessage = {
  t: "state" | "hb";
  n: 1 | 2;
  role: Role;
  epoch: number;
  index: number;
  lastEpoch: number;
};
/** Secondary → primary: where its log ends, and where each of its epochs begins. */
export type SyncMessage = { t: "sync"; index: number; lastEpoch: number; runs?: EpochRuns };
/** Primary → secondary: consecutive log entries (catch-up or live). */
export type EntriesMessage = { t: "entries"; entries: LogEntry[] };
/** Primary → secondary: one log entry (sent by older trackers). */
export type OpMessage = { t: "op"; e: LogEntry };
/** Secondary → primary: the highest index it has persisted. */
export type AckMessage = { t: "ack"; index: number };
/** Primary → secondary: the whole state; `divergedAt` when the secondary wrote alone after it. */
export type SnapshotMessage = { t: "snapshot"; snap: StateSnapshot; divergedAt?: number };
/** Primary → secondary: catch-up is over; live entries follow. */
export type SyncedMessage = { t: "synced"; index: number };
/** Secondary → primary: a batch of the writes it made alone, to merge. */
export type MergeMessage = { t: "merge"; entries: LogEntry[]; first: boolean; last: boolean };
/** Primary → secondary: the merge is done, with what it did. */
export type MergedMessage = { t: "merged"; merged: number; conflicts: number; skipped: number };
/** Part `part` (from 0) of `parts` of a message's JSON text. */
export type FragmentMessage = { t: "fragment"; part: number; parts: number; text: string };
/** Why the other side is about to close the connection. */
export type ErrorMessage = { t: "error"; error: string };

/** A message of the tracker link. */
export type LinkMessage =
  | HelloMessage
  | WelcomeMessage
  | ConfirmMessage
  | ViewMessage
  | SyncMessage
  | EntriesMessage
  | OpMessage
  | AckMessage
  | SnapshotMessage
  | SyncedMessage
  | MergeMessage
  | MergedMessage
  | FragmentMessage
  | ErrorMessage;

function index(msg: Message, field: string): number {
  const v = msg[field];
  if (!isIndex(v)) throw new LinkMessageError(`Link message ${msg.t} with a malformed ${field}`);
  return v;
}

function str(msg: Message, field: string, max = Infinity): string {
  const v = msg[field];
  if (typeof v !== "string" || v.length > max) {
    throw new LinkMessageError(`Link message ${msg.t} with a malformed ${field}`);
  }
  return v;
}

function tracker(msg: Message): 1 | 2 {
  const n = msg.n;
  if (n !== 1 && n !== 2) throw new LinkMessageError(`Link message ${msg.t} with a malformed n`);
  return n;
}

function bool(msg: Message, field: string): boolean {
  return msg[field] === true;
}

function role(msg: Message): Role {
  const r = msg.role;
  if (r !== "primary" && r !== "secondary" && r !== "starting") {
    throw new LinkMessageError(`Link message ${msg.t} with a malformed role`);
  }
  return r;
}

/** Checks one received frame against {@linkcode LinkMessage}; throws {@linkcode LinkMessageError}. */
export function decodeLinkMessage(msg: Message): LinkMessage {
  switch (msg.t) {
    case "link_hello":
      return {
        t: msg.t,
        n: tracker(msg),
        nonce: str(msg, "nonce", MAX_NONCE),
        ts: index(msg, "ts"),
        mac: str(msg, "mac"),
      };
    case "link_welcome":
      return {
        t: msg.t,
        n: tracker(msg),
        nonce: str(msg, "nonce", MAX_NONCE),
        mac: str(msg, "mac"),
      };
    case "link_confirm":
      return { t: msg.t, mac: str(msg, "mac") };
    case "state":
    case "hb":
      return {
        t: msg.t,
        n: tracker(msg),
        role: role(msg),
        epoch: index(msg, "epoch"),
        index: index(msg, "index"),
        lastEpoch: index(msg, "lastEpoch"),
      };
    case "sync": {
      const i = index(msg, "index");
      const sync: SyncMessage = { t: msg.t, index: i, lastEpoch: index(msg, "lastEpoch") };
      const runs = parseRuns(msg.runs, i);
      if (runs) sync.runs = runs;
      return sync;
    }
    case "entries":
      return { t: msg.t, entries: checkEntries(msg.entries) };
    case "op":
      return { t: msg.t, e: checkEntries([msg.e])[0]! };
    case "ack":
    case "synced":
      return { t: msg.t, index: index(msg, "index") };
    case "snapshot": {
      const snap: SnapshotMessage = { t: msg.t, snap: checkSnapshot(msg.snap) };
      if (msg.divergedAt !== undefined) snap.divergedAt = index(msg, "divergedAt");
      return snap;
    }
    case "merge":
      return {
        t: msg.t,
        entries: parseTail(msg.entries),
        first: bool(msg, "first"),
        last: bool(msg, "last"),
      };
    case "merged":
      return {
        t: msg.t,
        merged: index(msg, "merged"),
        conflicts: index(msg, "conflicts"),
        skipped: index(msg, "skipped"),
      };
    case "fragment":
      return {
        t: msg.t,
        part: index(msg, "part"),
        parts: index(msg, "parts"),
        text: str(msg, "text"),
      };
    case "error":
      return { t: msg.t, error: str(msg, "error").slice(0, MAX_ERROR) };
    default:
      throw new LinkMessageError(`Unknown link message ${String(msg.t).slice(0, 40)}`);
  }
}

function isMessage(v: unknown): v is Message {
  return isRecord(v) && typeof v.t === "string";
}

/**
 * Decodes the JSON text reassembled from fragments: one whole message that is
 * neither a fragment itself nor part of the handshake.
 */
export function decodeAssembled(text: string): LinkMessage {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new LinkMessageError("Reassembled link message is not JSON", { cause: err });
  }
  if (!isMessage(v)) throw new LinkMessageError("Reassembled link message is not a message object");
  const msg = decodeLinkMessage(v);
  if (msg.t === "fragment" || msg.t.startsWith("link_")) {
    throw new LinkMessageError(`Reassembled link message ${msg.t} cannot be fragmented`);
  }
  return msg;
}

/** The tracker view a `state` or `hb` message carries. */
export function viewOf(msg: ViewMessage): TrackerView {
  return { n: msg.n, role: msg.role, epoch: msg.epoch, index: msg.index, lastEpoch: msg.lastEpoch };
}
