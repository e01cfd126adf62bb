/**
 * What an unfinished download needs before it continues (at its user's
 * login, or at `resume_download`): its `.part` file checked, and the
 * trackers told which pieces it already has.
 */
import { emptyBitfield, hasBit } from "../../shared/bitfield.ts";
import { describeError } from "../../shared/errors.ts";
import { log } from "../../shared/log.ts";
import type { DownloadRecord, PeerDb } from "../store/peer_db.ts";
import type { TrackerClient } from "../tracker_client/tracker_client.ts";
import type { Verifier } from "../verify/verifier.ts";
import { createPart, finalPathOf, partPathOf, pathExists } from "./download_records.ts";

const logger = log("peer", "files");

/** Most pieces named in one `report_pieces` sent when a download continues. */
const REPORT_BATCH = 4096;

/** What {@linkcode checkPart} works with. */
export interface ResumeDeps {
  db: Pick<PeerDb, "setStatus" | "updateHave">;
  verifier: Pick<Verifier, "hashFile">;
  notify: (line: string) => void;
}

/**
 * Checks the `.part` of an unfinished download: true when the download may
 * continue (from its recorded pieces, or from none when the `.part` was gone
 * or damaged and is made again); false when it cannot (then it is recorded
 * as failed, or as complete when its finished file is already there).
 */
export async function checkPart(deps: ResumeDeps, rec: DownloadRecord): Promise<boolean> {
  const part = partPathOf(rec);
  try {
    const st = await Deno.stat(part);
    if (st.size !== rec.size) throw new Error("wrong size");
    return true;
  } catch {
    // A crash between the final rename and recording it leaves the finished file and no
    // .part: that file is checked, never overwritten.
    const final = finalPathOf(rec);
    if (await pathExists(final)) return await adoptFinished(deps, rec, final);
    // The .part file is gone or damaged: start that download over.
    rec.have = emptyBitfield(Math.ceil(rec.size / rec.pieceSize));
    try {
      await createPart(part, rec.size);
    } catch (err) {
      deps.db.setStatus(rec, "F", describeError(err));
      return false;
    }
    deps.db.updateHave(rec, rec.have);
    return true;
  }
}

/**
 * An unfinished download whose final file exists: complete if that file has
 * the download's SHA-1, else failed; the file is left as it is either way.
 */
async function adoptFinished(
  deps: ResumeDeps,
  rec: DownloadRecord,
  final: string,
): Promise<false> {
  let sha1 = "";
  try {
    sha1 = (await deps.verifier.hashFile(final, rec.pieceSize)).sha1;
  } catch (err) {
    logger.warn("Cannot hash {path}: {error}", { path: final, error: describeError(err) });
  }
  if (sha1 === rec.sha1) {
    deps.db.setStatus(rec, "C", null);
    deps.notify(`download of ${rec.name} was already complete: ${final}`);
  } else {
    deps.db.setStatus(rec, "F", `${final} already exists and is not this file`);
  }
  return false;
}

/**
 * Tells the trackers which pieces the download already has (they forgot
 * them when its user logged out), so other downloaders can use them.
 */
export async function reportHeld(
  client: Pick<TrackerClient, "request">,
  rec: DownloadRecord,
): Promise<void> {
  const n = Math.ceil(rec.size / rec.pieceSize);
  const pieces: number[] = [];
  for (let p = 0; p < n; p++) if (hasBit(rec.have, p)) pieces.push(p);
  for (let i = 0; i < pieces.length; i += REPORT_BATCH) {
    const batch = pieces.slice(i, i + REPORT_BATCH);
    const res = await client.request("report_pieces", {
      group: rec.group,
      name: rec.name,
      pieces: batch,
    }).catch((err) => ({ ok: false as const, error: describeError(err) }));
    if (!res.ok) {
      logger.debug("Cannot report the pieces {name} has: {error}", {
        name: rec.name,
        error: res.error,
      });
      return;
    }
  }
}
