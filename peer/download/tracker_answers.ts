/**
 * What a download asks the trackers and what their answers mean to it: the
 * file's metadata and sources (`lookup_file`) and its verified pieces
 * (`report_pieces`). The answers are checked by the client protocol's
 * decoders (shared/protocol/client_answers.ts); a malformed one throws
 * {@linkcode BadMessage}.
 */
import { decodeLookupAnswer } from "../../shared/protocol/client_answers.ts";
import type { TrackerClient } from "../tracker_client/tracker_client.ts";

/** What a download session reads of a lookup answer: the online sources and the grant. */
export interface LookupResult {
  peers: { user: string; addr: string; have: string }[];
  grant: unknown;
}

/** The trackers refused a download's lookup; the message is theirs. */
export class LookupRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LookupRefused";
  }
}

/** The trackers refused a `report_pieces`; the message is theirs. */
export class ReportRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReportRefused";
  }
}

/**
 * Looks up a file's sources, as the identity `id` (the SHA-256 of this
 * peer's key: the grant is issued to it); a refusal throws
 * {@linkcode LookupRefused}, a malformed answer `BadMessage`.
 */
export async function lookupSources(
  client: Pick<TrackerClient, "request">,
  file: { group: string; name: string; id: string },
): Promise<LookupResult> {
  const { group, name, id } = file;
  const res = await client.request("lookup_file", { group, name, id });
  if (!res.ok) throw new LookupRefused(res.error);
  return decodeLookupAnswer(res.data);
}

/** Tells the trackers that this peer has verified `pieces` of a file; a refusal throws {@linkcode ReportRefused}. */
export async function reportPieces(
  client: Pick<TrackerClient, "request">,
  file: { group: string; name: string },
  pieces: number[],
): Promise<void> {
  const res = await client.request("report_pieces", { group: file.group, name: file.name, pieces });
  if (!res.ok) throw new ReportRefused(res.error);
}
