/**
 * The downloads of the users of one peer: starting them, continuing them at
 * their user's login, pausing, resuming and cancelling them, listing them
 * (from peer.db, so that the list survives logout and restart) and waiting
 * for them. Only the logged-in user's downloads run.
 */
import { countBits, emptyBitfield, hasBit } from "../../shared/bitfield.ts";
import { describeError } from "../../shared/errors.ts";
import { log } from "../../shared/log.ts";
import { checkFileName, clip } from "../../shared/names.ts";
import { DownloadDriver } from "./driver.ts";
import {
  fileMetaOf,
  type LookupResult,
  lookupResultOf,
  lookupSources,
  reportPieces,
} from "./tracker_answers.ts";
import { describeUnfinished, formatDownload } from "./download_view.ts";
import type { DownloadRecord, PeerDb } from "../store/peer_db.ts";
import type { ServedFiles } from "../serve/served_files.ts";
import type { TrackerClient } from "../tracker_client/tracker_client.ts";
import type { TransferPool } from "./worker_pool.ts";
import type { Verifier } from "../verify/verifier.ts";

const logger = log("peer", "files");

/** Most pieces named in one `report_pieces` sent when a download continues. */
const REPORT_BATCH = 4096;

/** A user-facing failure: its message is shown after `error: `. */
export class FileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FileError";
  }
}

/** What {@linkcode DownloadManager} works with. */
export interface DownloadManagerDeps {
  db: PeerDb;
  served: ServedFiles;
  pool: TransferPool;
  client: Pick<TrackerClient, "request">;
  verifier: Pick<Verifier, "hashFile" | "followPrefix">;
  notify: (line: string) => void;
  /** A download ended (complete or failed), whichever user it belongs to. */
  ended: (d: DownloadDriver) => Promise<void>;
}

/** Options for {@linkcode DownloadManager.wait}. */
export interface WaitOptions {
  /** Called every second while waiting. */
  progress?: () => void;
  /** Give up after this long; then the unfinished downloads are thrown as a {@linkcode FileError}. */
  timeoutMs?: number;
}

/** Starts, controls and lists downloads; see the module comment. */
export class DownloadManager {
  /** Downloads started in this process that are running or ended since (paused ones leave). */
  readonly live: DownloadDriver[] = [];
  #deps: DownloadManagerDeps;
  #user: string | null = null;

  constructor(deps: DownloadManagerDeps) {
    this.#deps = deps;
  }

  /** At `user`'s login: their unfinished downloads continue (paused ones stay paused). */
  async online(user: string): Promise<void> {
    this.#user = user;
    for (const rec of this.#deps.db.downloads(user)) {
      // Each resume awaits: the user may have logged out (or the peer stopped) meanwhile.
      if (this.#user !== user) return;
      if (rec.status !== "D" || this.#running(rec)) continue;
      await this.#resume(rec);
    }
  }

  /** At logout: transfers stop; the downloads continue at their user's next login. */
  offline(): void {
    this.#user = null;
    for (const d of this.live) if (d.status === "D") this.#halt(d, "pause");
    // A download in its final hash finishes by itself; it stays in the list so it is not started twice.
    const left = this.live.filter((d) => d.status !== "D");
    this.live.splice(0, this.live.length, ...left);
  }

  /** At shutdown: every transfer stops; unfinished downloads continue at the next start. */
  stopAll(): void {
    // Stopped, not failed: a download in its final hash resumes at the next start.
    for (const d of this.live) this.#halt(d, "stop");
  }

  /** True while a download runs (so that the database is not checkpointed under it). */
  get busy(): boolean {
    return this.live.some((d) => d.status === "D" || d.status === "V");
  }

  /** `download_file`: starts a download in the background and returns at once. */
  async download(group: string, name: string, destDir: string): Promise<string> {
    const user = this.#me();
    const bad = checkFileName(name);
    if (bad) throw new FileError(bad);
    let dest: string;
    try {
      dest = await Deno.realPath(destDir);
      if (!(await Deno.stat(dest)).isDirectory) throw new Error("not a folder");
    } catch (err) {
      throw new FileError(`destination ${destDir}: ${describeError(err)}`);
    }
    const mine = this.#unfinished(group, name);
    if (mine?.status === "P") {
      throw new FileError(
        `${name} from ${group} is paused; resume_download ${group} ${name} continues it`,
      );
    }
    if (mine || this.live.some((d) => isRunning(d) && sameFile(d.rec, { user, group, name }))) {
      throw new FileError(`${name} from ${group} is already being downloaded`);
    }
    const final = `${dest}/${name}`;
    const other = this.#deps.db.downloadList().find((r) =>
      (r.status === "D" || r.status === "P") && r.dest === dest && r.name === name
    );
    if (other) {
      throw new FileError(
        `${final}.part belongs to an unfinished download of ${other.user} on this peer`,
      );
    }
    if (await exists(final)) throw new FileError(`${final} already exists`);
    const res = await this.#deps.client.request("lookup_file", { group, name });
    if (!res.ok) throw new FileError(res.error);
    const d = fileMetaOf(res.data);
    if (
      !Number.isSafeInteger(d.size) || d.size < 0 || !Number.isSafeInteger(d.pieceSize) ||
      d.pieceSize <= 0 || typeof d.pieces !== "string" || typeof d.sha1 !== "string"
    ) {
      throw new FileError(`the tracker's answer about ${name} is malformed`);
    }
    const n = Math.ceil(d.size / d.pieceSize);
    const rec: DownloadRecord = {
      user,
      group,
      name,
      dest,
      size: d.size,
      pieceSize: d.pieceSize,
      pieces: d.pieces,
      sha1: d.sha1,
      have: emptyBitfield(n),
      status: "D",
      error: null,
    };
    try {
      using f = await Deno.open(`${final}.part`, { write: true, create: true, truncate: true });
      await f.truncate(d.size);
    } catch (err) {
      throw new FileError(`cannot create ${final}.part: ${describeError(err)}`);
    }
    this.#deps.db.putDownload(rec);
    // The lookup's peers and grant start the download without asking again.
    this.#begin(rec, lookupResultOf(res.data));
    return `downloading ${name} from ${group} into ${dest} (${n} pieces); see show_downloads`;
  }

  /** `pause_download`: transfers stop until `resume_download`, also across logout and restart. */
  pause(group: string, name: string): string {
    const rec = this.#find(group, name);
    this.#refuseEnded(rec, "pause");
    if (rec.status === "P") throw new FileError(`${name} from ${group} is already paused`);
    const d = this.#liveOf(rec);
    if (d?.status === "V") {
      throw new FileError(`${name} from ${group} is being verified; it cannot be paused now`);
    }
    if (d) {
      this.#halt(d, "pause");
      this.#forget(d);
    }
    this.#deps.db.setStatus(rec, "P", null);
    return `paused ${name} from ${group} at ${this.#percent(rec, d)}`;
  }

  /** `resume_download`: a paused download continues. */
  async resume(group: string, name: string): Promise<string> {
    const rec = this.#find(group, name);
    this.#refuseEnded(rec, "resume");
    if (this.#liveOf(rec)) throw new FileError(`${name} from ${group} is already downloading`);
    this.#deps.db.setStatus(rec, "D", null);
    rec.status = "D";
    const full = this.#deps.db.withPieces(rec);
    if (!(await this.#resume(full, { quiet: true }))) {
      const again = this.#deps.db.downloadList(rec.user).find((r) => sameDownload(r, rec));
      if (again?.status === "C") return `${name} from ${group} was already complete`;
      throw new FileError(`cannot resume ${name} from ${group}: ${again?.error ?? "failed"}`);
    }
    return `resumed ${name} from ${group} at ${this.#percent(full)}`;
  }

  /**
   * `cancel_download`: transfers stop, the `.part` file and the resume state
   * go, and the trackers no longer list this user as a partial holder
   * (unless they also share the whole file).
   */
  async cancel(group: string, name: string): Promise<string> {
    const user = this.#me();
    const rec = this.#find(group, name);
    this.#refuseEnded(rec, "cancel");
    const d = this.#liveOf(rec);
    if (d?.status === "V") {
      throw new FileError(`${name} from ${group} is being verified; it cannot be cancelled now`);
    }
    if (d) {
      this.#halt(d, "stop");
      this.#forget(d);
      await this.#deps.pool.drain(d.partPath);
    }
    this.#deps.db.deleteDownload(rec);
    const part = `${rec.dest}/${rec.name}.part`;
    await Deno.remove(part).catch((err) => {
      if (!(err instanceof Deno.errors.NotFound)) {
        logger.warn("Cannot remove {part}: {error}", { part, error: describeError(err) });
      }
    });
    const share = this.#deps.db.shares(user).find((s) => s.group === group && s.name === name);
    if (share) {
      // The user shares the whole file too: that stays offered.
      this.#deps.served.set({ meta: share, path: share.path, have: null, mtime: share.mtime });
    } else {
      const served = this.#deps.served.get(group, name);
      if (served && served.have !== null) this.#deps.served.delete(group, name);
      const res = await this.#deps.client.request("stop_share", { group, name }).catch((err) => ({
        ok: false as const,
        error: describeError(err),
      }));
      if (!res.ok && !res.error.startsWith("you do not share")) {
        logger.warn("Cannot withdraw the partial offer of {name}: {error}", {
          name,
          error: res.error,
        });
      }
    }
    return `cancelled the download of ${name} from ${group}; removed ${part}`;
  }

  /**
   * `show_downloads`: one line per download, oldest first, from peer.db: the
   * logged-in user's, or every user's (named) when nobody is logged in.
   */
  show(): string[] {
    const user = this.#user;
    const recs = this.#deps.db.downloadList(user ?? undefined);
    if (recs.length === 0) return ["no downloads"];
    return recs.map((rec) => {
      const d = user === null ? undefined : this.#liveOf(rec);
      const full = d || rec.status === "C" || rec.status === "F"
        ? rec
        : this.#deps.db.withPieces(rec);
      return formatDownload(full, { live: d, owner: user === null ? rec.user ?? "" : undefined });
    });
  }

  /** `clear_downloads`: forgets the user's complete and failed downloads. */
  clear(): string {
    const user = this.#me();
    const n = this.#deps.db.clearEnded(user);
    const left = this.live.filter((d) =>
      !(d.rec.user === user && (d.status === "C" || d.status === "F"))
    );
    this.live.splice(0, this.live.length, ...left);
    if (n === 0) return "no complete or failed downloads to forget";
    return `forgot ${n} complete or failed download${n === 1 ? "" : "s"}`;
  }

  /**
   * Resolves when every running download (downloading, verifying or
   * stalled; not paused) of the logged-in user has ended. With a timeout,
   * throws a {@linkcode FileError} naming the unfinished ones when it runs out.
   */
  async wait(options: WaitOptions = {}): Promise<void> {
    const timer = options.progress ? setInterval(options.progress, 1000) : undefined;
    let expire: ReturnType<typeof setTimeout> | undefined;
    const expired = options.timeoutMs === undefined
      ? null
      : new Promise<"expired">((r) => expire = setTimeout(() => r("expired"), options.timeoutMs));
    try {
      for (;;) {
        const running = this.live.filter((d) => isRunning(d) && d.rec.user === this.#user);
        if (running.length === 0) return;
        const all = Promise.all(running.map((d) => d.done));
        if ((await (expired ? Promise.race([all, expired]) : all)) !== "expired") continue;
        const still = this.live.filter((d) => isRunning(d) && d.rec.user === this.#user);
        if (still.length === 0) return;
        const secs = Number((options.timeoutMs! / 1000).toFixed(3));
        throw new FileError(
          `timed out after ${secs} s; unfinished: ${still.map(describeUnfinished).join(", ")}`,
        );
      }
    } finally {
      clearInterval(timer);
      clearTimeout(expire);
    }
  }

  #me(): string {
    if (this.#user === null) throw new FileError("not logged in");
    return this.#user;
  }

  /** The user's download of `name` from `group`: the unfinished one, else the newest. */
  #find(group: string, name: string): DownloadRecord {
    const user = this.#me();
    const recs = this.#deps.db.downloadList(user).filter((r) =>
      r.group === group && r.name === name
    );
    const rec = recs.find((r) => r.status === "D" || r.status === "P") ?? recs.at(-1);
    if (!rec) throw new FileError(`no download of ${clip(name)} from ${group}`);
    return rec;
  }

  #unfinished(group: string, name: string): DownloadRecord | undefined {
    return this.#deps.db.downloadList(this.#me()).find((r) =>
      r.group === group && r.name === name && (r.status === "D" || r.status === "P")
    );
  }

  #refuseEnded(rec: DownloadRecord, what: "pause" | "resume" | "cancel"): void {
    const which = `the download of ${rec.name} from ${rec.group}`;
    if (rec.status === "C") {
      throw new FileError(
        what === "cancel"
          ? `${which} is complete; cancel_download never touches a completed file`
          : `${which} is complete`,
      );
    }
    if (rec.status === "F") {
      throw new FileError(
        `${which} failed (${rec.error ?? "no reason"}); download_file starts it again`,
      );
    }
  }

  /** The running (or verifying) download object of a record, if any. */
  #liveOf(rec: DownloadRecord): DownloadDriver | undefined {
    return this.live.find((d) => isRunning(d) && sameDownload(d.rec, rec));
  }

  #running(rec: DownloadRecord): boolean {
    return this.#liveOf(rec) !== undefined;
  }

  /**
   * Stops a download's transfers for good (it is started afresh to
   * continue): `pause()` or `stop()`.
   */
  #halt(d: DownloadDriver, how: "pause" | "stop"): void {
    if (how === "pause") d.pause();
    else d.stop();
  }

  #forget(d: DownloadDriver): void {
    const i = this.live.indexOf(d);
    if (i >= 0) this.live.splice(i, 1);
  }

  #percent(rec: DownloadRecord, d?: DownloadDriver): string {
    const n = Math.ceil(rec.size / rec.pieceSize);
    const have = d?.haveCount ?? countBits(this.#deps.db.withPieces(rec).have, n);
    return `${(n === 0 ? 100 : (100 * have) / n).toFixed(1)}%`;
  }

  /**
   * Continues an unfinished download (its `.part` checked first); false when
   * it could not (then it is recorded as failed).
   */
  async #resume(rec: DownloadRecord, options: { quiet?: boolean } = {}): Promise<boolean> {
    const n = Math.ceil(rec.size / rec.pieceSize);
    const part = `${rec.dest}/${rec.name}.part`;
    try {
      const st = await Deno.stat(part);
      if (st.size !== rec.size) throw new Error("wrong size");
    } catch {
      // A crash between the final rename and recording it leaves the finished file and no
      // .part: that file is checked, never overwritten.
      const final = `${rec.dest}/${rec.name}`;
      if (await exists(final)) return await this.#adoptFinished(rec, final);
      // The .part file is gone or damaged: start that download over.
      rec.have = emptyBitfield(n);
      try {
        using f = await Deno.open(part, { write: true, create: true, truncate: true });
        await f.truncate(rec.size);
      } catch (err) {
        this.#deps.db.setStatus(rec, "F", describeError(err));
        return false;
      }
      this.#deps.db.updateHave(rec, rec.have);
    }
    if (!options.quiet) this.#deps.notify(`resuming download of ${rec.name} from ${rec.group}`);
    await this.#reportHeld(rec, n);
    if (this.#user !== rec.user) return false;
    this.#begin(rec);
    return true;
  }

  /**
   * An unfinished download whose final file exists: complete if that file has
   * the download's SHA-1, else failed; the file is left as it is either way.
   */
  async #adoptFinished(rec: DownloadRecord, final: string): Promise<boolean> {
    let sha1 = "";
    try {
      sha1 = (await this.#deps.verifier.hashFile(final, rec.pieceSize)).sha1;
    } catch (err) {
      logger.warn("Cannot hash {path}: {error}", { path: final, error: describeError(err) });
    }
    if (sha1 === rec.sha1) {
      this.#deps.db.setStatus(rec, "C", null);
      this.#deps.notify(`download of ${rec.name} was already complete: ${final}`);
    } else {
      this.#deps.db.setStatus(rec, "F", `${final} already exists and is not this file`);
    }
    return false;
  }

  /**
   * Tells the trackers which pieces the download already has (they forgot
   * them when its user logged out), so other downloaders can use them.
   */
  async #reportHeld(rec: DownloadRecord, n: number): Promise<void> {
    const pieces: number[] = [];
    for (let p = 0; p < n; p++) if (hasBit(rec.have, p)) pieces.push(p);
    for (let i = 0; i < pieces.length; i += REPORT_BATCH) {
      const batch = pieces.slice(i, i + REPORT_BATCH);
      const res = await this.#deps.client.request("report_pieces", {
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

  #begin(rec: DownloadRecord, lookup?: LookupResult): void {
    const { client } = this.#deps;
    const dl = new DownloadDriver(rec, {
      lookup: (group, name) => lookupSources(client, { group, name }),
      report: (group, name, pieces) => reportPieces(client, { group, name }, pieces),
      db: this.#deps.db,
      served: this.#deps.served,
      pool: this.#deps.pool,
      wholeHasher: (path) => this.#deps.verifier.followPrefix(path),
      finished: (d) => this.#deps.ended(d),
    });
    this.live.push(dl);
    dl.start(lookup);
  }
}

function isRunning(d: DownloadDriver): boolean {
  return d.status === "D" || d.status === "V";
}

function sameFile(
  a: { user?: string; group: string; name: string },
  b: { user?: string; group: string; name: string },
): boolean {
  return a.user === b.user && a.group === b.group && a.name === b.name;
}

function sameDownload(a: DownloadRecord, b: DownloadRecord): boolean {
  return sameFile(a, b) && a.dest === b.dest;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}
