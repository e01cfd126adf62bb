/**
 * What `download_file` does before a download starts: its destination
 * resolved and checked, the file looked up at the trackers, and its record
 * and empty `.part` file made.
 */
import { emptyBitfield } from "../../shared/bitfield.ts";
import { describeError } from "../../shared/errors.ts";
import { BadMessage } from "../../shared/protocol/bad_message.ts";
import { decodeLookupAnswer, type LookupAnswer } from "../../shared/protocol/client_answers.ts";
import type { DownloadRecord, PeerDb } from "../store/peer_db.ts";
import type { TrackerClient } from "../tracker_client/tracker_client.ts";
import { createPart, finalPathOf, partPathOf, pathExists } from "./download_records.ts";
import { FileError } from "./file_error.ts";
import type { LookupResult } from "./tracker_answers.ts";

/** The real path of the destination folder; a {@linkcode FileError} when it is none. */
export async function resolveDest(destDir: string): Promise<string> {
  try {
    const dest = await Deno.realPath(destDir);
    if (!(await Deno.stat(dest)).isDirectory) throw new Error("not a folder");
    return dest;
  } catch (err) {
    throw new FileError(`destination ${destDir}: ${describeError(err)}`);
  }
}

/**
 * Refuses a destination whose `.part` belongs to another unfinished
 * download on this peer, or whose final file exists.
 */
export async function checkDestFree(
  db: Pick<PeerDb, "downloadList">,
  place: { dest: string; name: string },
): Promise<void> {
  const final = finalPathOf(place);
  const other = db.downloadList().find((r) =>
    (r.status === "D" || r.status === "P") && r.dest === place.dest && r.name === place.name
  );
  if (other) {
    throw new FileError(
      `${final}.part belongs to an unfinished download of ${other.user} on this peer`,
    );
  }
  if (await pathExists(final)) throw new FileError(`${final} already exists`);
}

/**
 * Looks the file up (as the identity `id`, to which the grant is issued) and
 * makes its download: the record (not yet stored) and an empty `.part` of the
 * file's size; the lookup's sources and grant start the download without
 * asking again.
 */
export async function createDownload(
  tracker: { client: Pick<TrackerClient, "request">; id: string },
  key: { user: string; group: string; name: string; dest: string },
): Promise<{ rec: DownloadRecord; lookup: LookupResult }> {
  const { group, name } = key;
  const res = await tracker.client.request("lookup_file", { group, name, id: tracker.id });
  if (!res.ok) throw new FileError(res.error);
  let d: LookupAnswer;
  try {
    d = decodeLookupAnswer(res.data);
  } catch (err) {
    if (!(err instanceof BadMessage)) throw err;
    throw new FileError(`the tracker's answer about ${name} is malformed: ${err.message}`);
  }
  const rec: DownloadRecord = {
    ...key,
    size: d.size,
    pieceSize: d.pieceSize,
    pieces: d.pieces,
    sha1: d.sha1,
    have: emptyBitfield(Math.ceil(d.size / d.pieceSize)),
    status: "D",
    error: null,
  };
  const part = partPathOf(rec);
  try {
    await createPart(part, d.size);
  } catch (err) {
    throw new FileError(`cannot create ${part}: ${describeError(err)}`);
  }
  return { rec, lookup: d };
}
