/**
 * The downloads of the users of one peer: starting them, continuing them at
 * their user's login, pausing, resuming and cancelling them, listing them
 * (from peer.db, so that the list survives logout and restart) and waiting
 * for them. Only the logged-in user's downloads run.
 */
import { countBits } from "../../shared/bitfield.ts";
import { describeError } from "../../shared/errors.ts";
import { log } from "../../shared/log.ts";
import { checkFileName, clip } from "../../shared/names.ts";
import type { DownloadRecord, PeerDb } from "../store/peer_db.ts";
import type { ServedFiles } from "../serve/served_files.ts";
import type { TrackerClient } from "../tracker_client/tracker_client.ts";
import type { Verifier } from "../verify/verifier.ts";
import { partPathOf, sameDownload, sameFile } from "./download_records.ts";
import {
  describeUnfinished,
  type DownloadInfo,
  downloadInfo,
  formatDownload,
  type ViewOptions,
} from "./download_view.ts";
import { DownloadDriver } from "./driver.ts";
import { FileError } from "./file_error.ts";
import { checkDestFree, createDownload, resolveDest } from "./new_download.ts";
import { checkPart, reportHeld } from "./resume_check.ts";
import { type LookupResult, lookupSources, reportPieces } from "./tracker_answers.ts";
import type { TransferPool } from "./worker_pool.ts";
import type { DownloadCounters } from "./download_counters.ts";

const logger = log("peer", "files");

/** What {@linkcode DownloadManager} works with. */
export interface DownloadManagerDeps {
  db: PeerDb;
  served: ServedFiles;
  pool: TransferPool;
  client: Pick<TrackerClient, "request">;
  /** This peer's identity (the SHA-256 of its key): lookups name it, and their grants are issued to it. */
  id: string;
  verifier: Pick<Verifier, "hashFile" | "followPrefix">;
  notify: (line: string) => void;
  /** Counts what the downloads fetch (for /metrics), if given. */
  counters?: DownloadCounters;
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
    const dest = await resolveDest(destDir);
    const mine = this.#unfinished(group, name);
    if (mine?.status === "P") {
      throw new FileError(
        `${name} from ${group} is paused; resume_download ${group} ${name} continues it`,
      );
    }
    if (mine || this.live.some((d) => isRunning(d) && sameFile(d.rec, { user, group, name }))) {
      throw new FileError(`${name} from ${group} is already being downloaded`);
    }
    await checkDestFree(this.#deps.db, { dest, name });
    const { rec, lookup } = await createDownload(this.#deps, { user, group, name, dest });
    this.#deps.db.putDownload(rec);
    this.#begin(rec, lookup);
    const n = Math.ceil(rec.size / rec.pieceSize);
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
    const part = partPathOf(rec);
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
    const views = this.#views();
    if (views.length === 0) return ["no downloads"];
    return views.map(([rec, options]) => formatDownload(rec, options));
  }

  /** The downloads of {@linkcode show} as structured entries (the web API's and page's). */
  list(): DownloadInfo[] {
    return this.#views().map(([rec, options]) => downloadInfo(rec, options));
  }

  /** What show() and list() show: each record (with its pieces) and its running download. */
  #views(): [DownloadRecord, ViewOptions][] {
    const user = this.#user;
    return this.#deps.db.downloadList(user ?? undefined).map((rec) => {
      const d = user === null ? undefined : this.#liveOf(rec);
      const full = d || rec.status === "C" || rec.status === "F"
        ? rec
        : this.#deps.db.withPieces(rec);
      return [full, { live: d, owner: user === null ? rec.user ?? "" : undefined }];
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
   * it could not (then it is recorded as failed, or as complete).
   */
  async #resume(rec: DownloadRecord, options: { quiet?: boolean } = {}): Promise<boolean> {
    if (!(await checkPart(this.#deps, rec))) return false;
    if (!options.quiet) this.#deps.notify(`resuming download of ${rec.name} from ${rec.group}`);
    await reportHeld(this.#deps.client, rec);
    if (this.#user !== rec.user) return false;
    this.#begin(rec);
    return true;
  }

  #begin(rec: DownloadRecord, lookup?: LookupResult): void {
    const { client, id } = this.#deps;
    const dl = new DownloadDriver(rec, {
      lookup: (group, name) => lookupSources(client, { group, name, id }),
      report: (group, name, pieces) => reportPieces(client, { group, name }, pieces),
      db: this.#deps.db,
      served: this.#deps.served,
      pool: this.#deps.pool,
      wholeHasher: (path) => this.#deps.verifier.followPrefix(path),
      finished: (d) => this.#deps.ended(d),
      counters: this.#deps.counters,
    });
    this.live.push(dl);
    dl.start(lookup);
  }
}

function isRunning(d: DownloadDriver): boolean {
  return d.status === "D" || d.status === "V";
}
