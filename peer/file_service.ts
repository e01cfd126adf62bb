/**
 * The peer's file side: sharing (upload_file, stop_share, re-offering after
 * login), downloads (start, resume, show, wait) and the piece server, with the
 * state kept in {@linkcode PeerDb} for restarts.
 */
import { PIECE_SIZE } from "../shared/constants.ts";
import { emptyBitfield } from "../shared/bitfield.ts";
import { describeError } from "../shared/errors.ts";
import { log } from "../shared/log.ts";
import { checkFileName } from "../shared/names.ts";
import { type Endpoint, formatEndpoint } from "../shared/tracker_info.ts";
import { Download, type LookupResult } from "./download.ts";
import { hashInWorker } from "./hasher.ts";
import { type DownloadRecord, type FileMeta, PeerDb, type ShareRecord } from "./peer_db.ts";
import { defaultServerWorkers, ServerPool } from "./server_pool.ts";
import { isUnchanged, type ServedFile, ServedFiles } from "./served_files.ts";
import type { TrackerClient } from "./tracker_client.ts";
import { WorkerPool } from "./worker_pool.ts";
import { formatDownload } from "./download_view.ts";
import { type HashHost, WholeHasher } from "./whole_hasher.ts";

const logger = log("peer", "files");

/** How often shared files are checked for changes on disk. */
export const CHANGE_CHECK_MS = 5000;
/** How long a stopping peer waits for the trackers to hear that it no longer serves. */
export const AWAY_TIMEOUT_MS = 2000;

/** A user-facing failure: its message is shown after `error: `. */
export class FileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FileError";
  }
}

/** Options for {@linkcode FileService}. */
export interface FileServiceOptions {
  addr: Endpoint;
  stateDir: string;
  client: Pick<TrackerClient, "request">;
  workers: number;
  /** Piece-server workers; default one per core. */
  serverWorkers?: number;
  /** Prints a line to the user (download finished, share withdrawn, ...). */
  notify: (line: string) => void;
}

/** Files this peer shares and downloads. */
export class FileService {
  readonly db: PeerDb;
  readonly served = new ServedFiles();
  readonly downloads: Download[] = [];
  server: ServerPool | null = null;
  #opts: FileServiceOptions;
  #pool: WorkerPool;
  #grantKey: string | null = null;
  #online = false;
  #checkTimer: ReturnType<typeof setInterval> | undefined;
  /** True once the trackers have heard that this session serves (see online()). */
  #serving = false;
  /** Whole-file hashes run in the piece-server workers. */
  #hashHost: HashHost = {
    hashChannel: (onEvent) => {
      if (!this.server) throw new Error("the piece server is not running");
      return this.server.hashChannel(onEvent);
    },
  };

  constructor(opts: FileServiceOptions) {
    this.#opts = opts;
    this.db = new PeerDb(opts.stateDir);
    this.#pool = new WorkerPool(opts.workers);
    for (const s of this.db.shares()) {
      this.served.set({ meta: s, path: s.path, have: null, mtime: s.mtime });
    }
  }

  /** Starts the piece server on the peer's address: workers sharing the port. */
  async listen(): Promise<void> {
    try {
      this.server = await ServerPool.start(
        this.#opts.addr,
        this.#opts.serverWorkers ?? defaultServerWorkers(),
        (group, name) => {
          const f = this.served.get(group, name);
          if (f) this.#checkUnchanged(f);
        },
      );
    } catch (err) {
      throw new FileError(
        `cannot listen on ${formatEndpoint(this.#opts.addr)}: ${describeError(err)}`,
      );
    }
    const server = this.server;
    for (const f of this.served.all()) server.set(f);
    this.served.onChange = (f) => {
      if ("deleted" in f) server.delete(f.group, f.name);
      else server.set(f);
    };
    this.#checkTimer = setInterval(() => {
      if (this.#online && !this.#serving) this.#serveAgain();
      this.#checkAll();
    }, CHANGE_CHECK_MS);
  }

  /** Stops everything: transfers, the piece server, the workers, the database. */
  async close(): Promise<void> {
    clearInterval(this.#checkTimer);
    // Stopped, not failed: a download in its final hash resumes at the next start.
    for (const d of this.downloads) d.stop();
    await this.server?.close();
    this.#pool.terminate();
    this.db.close();
  }

  /** After login or a resumed session: re-offers shares and continues unfinished downloads. */
  async online(grantKey: unknown): Promise<void> {
    if (typeof grantKey === "string") this.#grantKey = grantKey;
    this.server?.setKey(this.#grantKey);
    this.#online = true;
    // A session resumed after a quit was marked away (see away()); lookups list this peer again.
    this.#serving = false;
    await this.#serveAgain();
    // A download from one seeder needs one worker: start it now so that the download does not wait.
    this.#pool.warm(1);
    for (const f of this.served.all()) {
      if (f.have !== null) continue; // downloads re-register as their pieces arrive
      if (!(await this.#checkUnchanged(f))) continue;
      const res = await this.#opts.client.request("share_file", shareArgs(f.meta));
      if (!res.ok) {
        this.#withdrawLocal(f.meta.group, f.meta.name);
        this.#opts.notify(`stopped sharing ${f.meta.name} in ${f.meta.group}: ${res.error}`);
      }
    }
    for (const rec of this.db.downloads()) {
      if (rec.status !== "D" || this.#active(rec)) continue;
      await this.#resume(rec);
    }
  }

  /** Tells the trackers this peer serves; until they have heard it, the change check retries. */
  async #serveAgain(): Promise<void> {
    const res = await this.#opts.client.request("set_serving", { serving: true }).catch(
      (err) => ({ ok: false as const, error: describeError(err) }),
    );
    if (res.ok) this.#serving = this.#online;
    else {
      logger.warn("Cannot tell the trackers this peer serves again: {error}", {
        error: res.error,
      });
    }
  }

  /**
   * Before the peer stops without logging out (quit, end of input, SIGINT,
   * SIGTERM): the trackers keep its session and offers but leave it out of
   * lookups, so that downloaders do not try a peer that is gone; the next
   * start (or login) makes it serve again. Best effort, at most `timeoutMs`.
   */
  async away(timeoutMs = AWAY_TIMEOUT_MS): Promise<void> {
    if (!this.#online) return;
    const res = await this.#opts.client
      .request("set_serving", { serving: false }, { deadlineMs: timeoutMs })
      .catch((err) => ({ ok: false as const, error: describeError(err) }));
    if (!res.ok) {
      logger.warn("Cannot tell the trackers this peer stops serving: {error}", {
        error: res.error,
      });
    }
  }

  /** After logout: stops transfers (resumed at the next login) and serving. */
  offline(): void {
    this.#online = false;
    this.server?.setKey(null);
    for (const d of this.downloads) {
      if (d.status === "D") d.pause();
    }
    this.downloads.splice(
      0,
      this.downloads.length,
      ...this.downloads.filter((d) => d.status !== "D"),
    );
  }

  /** `upload_file`: hashes the file (in a worker) and shares it in the group. */
  async upload(path: string, group: string): Promise<string> {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch (err) {
      throw new FileError(`cannot read ${path}: ${describeError(err)}`);
    }
    if (!info.isFile) throw new FileError(`${path} is not a regular file`);
    const real = await Deno.realPath(path);
    const name = real.slice(real.lastIndexOf("/") + 1);
    const bad = checkFileName(name);
    if (bad) throw new FileError(bad);
    const h = await hashInWorker({ path: real, pieceSize: PIECE_SIZE });
    const after = await Deno.stat(real);
    if (after.size !== info.size || after.mtime?.getTime() !== info.mtime?.getTime()) {
      throw new FileError(`${path} changed while it was being hashed`);
    }
    const meta: FileMeta = {
      group,
      name,
      size: h.size,
      pieceSize: PIECE_SIZE,
      pieces: h.pieces,
      sha1: h.sha1,
    };
    const res = await this.#opts.client.request("share_file", shareArgs(meta));
    if (!res.ok) throw new FileError(res.error);
    const share: ShareRecord = { ...meta, path: real, mtime: info.mtime?.getTime() ?? 0 };
    this.db.putShare(share);
    this.served.set({ meta, path: real, have: null, mtime: share.mtime });
    return `shared ${name} in ${group} (${h.size} bytes, ${
      h.pieces.length / 40
    } pieces, sha1 ${h.sha1})`;
  }

  /** `stop_share`: this peer no longer offers the file. */
  async stopShare(group: string, name: string): Promise<string> {
    const res = await this.#opts.client.request("stop_share", { group, name });
    this.#withdrawLocal(group, name);
    if (!res.ok) throw new FileError(res.error);
    return res.data.removed === true
      ? `stopped sharing ${name} in ${group}; nobody shares it any more, so it left the group`
      : `stopped sharing ${name} in ${group}`;
  }

  /** `download_file`: starts a download in the background and returns at once. */
  async download(group: string, name: string, destDir: string): Promise<string> {
    const bad = checkFileName(name);
    if (bad) throw new FileError(bad);
    let dest: string;
    try {
      dest = await Deno.realPath(destDir);
      if (!(await Deno.stat(dest)).isDirectory) throw new Error("not a folder");
    } catch (err) {
      throw new FileError(`destination ${destDir}: ${describeError(err)}`);
    }
    if (
      this.downloads.some((d) => d.status === "D" && d.rec.group === group && d.rec.name === name)
    ) {
      throw new FileError(`${name} from ${group} is already being downloaded`);
    }
    const final = `${dest}/${name}`;
    if (await exists(final)) throw new FileError(`${final} already exists`);
    const res = await this.#opts.client.request("lookup_file", { group, name });
    if (!res.ok) throw new FileError(res.error);
    const d = res.data as unknown as FileMeta;
    const n = Math.ceil(d.size / d.pieceSize);
    const rec: DownloadRecord = {
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
    this.db.putDownload(rec);
    // The lookup's peers and grant start the download without asking again.
    this.#begin(rec, res.data as unknown as LookupResult);
    return `downloading ${name} from ${group} into ${dest} (${n} pieces); see show_downloads`;
  }

  /** One line per download, newest last. */
  showDownloads(): string[] {
    if (this.downloads.length === 0) return ["no downloads"];
    return this.downloads.map(formatDownload);
  }

  /** Resolves when every running download has ended. */
  async waitAll(progress?: () => void): Promise<void> {
    const timer = progress ? setInterval(progress, 1000) : undefined;
    try {
      for (;;) {
        const running = this.downloads.filter((d) => d.status === "D" || d.status === "V");
        if (running.length === 0) return;
        await Promise.all(running.map((d) => d.done));
      }
    } finally {
      clearInterval(timer);
    }
  }

  #active(rec: { group: string; name: string; dest: string }): boolean {
    return this.downloads.some((d) =>
      d.status !== "F" && d.rec.group === rec.group && d.rec.name === rec.name &&
      d.rec.dest === rec.dest
    );
  }

  async #resume(rec: DownloadRecord): Promise<void> {
    const part = `${rec.dest}/${rec.name}.part`;
    try {
      const st = await Deno.stat(part);
      if (st.size !== rec.size) throw new Error("wrong size");
    } catch {
      // The .part file is gone or damaged: start that download over.
      rec.have = emptyBitfield(Math.ceil(rec.size / rec.pieceSize));
      try {
        using f = await Deno.open(part, { write: true, create: true, truncate: true });
        await f.truncate(rec.size);
      } catch (err) {
        this.db.setStatus(rec, "F", describeError(err));
        return;
      }
      this.db.updateHave(rec, rec.have);
    }
    this.#opts.notify(`resuming download of ${rec.name} from ${rec.group}`);
    this.#begin(rec);
  }

  #begin(rec: DownloadRecord, lookup?: LookupResult): void {
    const dl = new Download(rec, {
      lookup: (group, name) => this.#lookup(group, name),
      report: async (group, name, pieces) => {
        const res = await this.#opts.client.request("report_pieces", { group, name, pieces });
        if (!res.ok) throw new Error(res.error);
      },
      db: this.db,
      served: this.served,
      pool: this.#pool,
      wholeHasher: (path) => new WholeHasher(this.#hashHost, path),
      finished: (d) => this.#finished(d),
    });
    this.downloads.push(dl);
    dl.start(lookup).catch((err) =>
      logger.error("Download failed to start: {error}", { error: describeError(err) })
    );
  }

  async #lookup(group: string, name: string): Promise<LookupResult> {
    const res = await this.#opts.client.request("lookup_file", { group, name });
    if (!res.ok) throw new Error(res.error);
    return res.data as unknown as LookupResult;
  }

  async #finished(d: Download): Promise<void> {
    try {
      await this.#announceEnd(d);
    } finally {
      this.#checkpointIfIdle();
    }
  }

  /** With no download left running, the database's log is folded in (see PeerDb.checkpoint). */
  #checkpointIfIdle(): void {
    if (this.downloads.some((x) => x.status === "D" || x.status === "V")) return;
    try {
      this.db.checkpoint();
    } catch (err) {
      logger.warn("Cannot checkpoint the peer database: {error}", { error: describeError(err) });
    }
  }

  async #announceEnd(d: Download): Promise<void> {
    if (d.status === "F") {
      this.#opts.notify(`download of ${d.rec.name} failed: ${d.error}`);
      return;
    }
    const st = await Deno.stat(d.finalPath);
    const meta: FileMeta = { ...d.rec };
    const share: ShareRecord = { ...meta, path: d.finalPath, mtime: st.mtime?.getTime() ?? 0 };
    this.db.putShare(share);
    this.served.set({ meta, path: d.finalPath, have: null, mtime: share.mtime });
    const res = await this.#opts.client.request("share_file", shareArgs(meta));
    if (!res.ok) {
      logger.warn("Cannot register {name} as seeded: {error}", {
        name: meta.name,
        error: res.error,
      });
    }
    const secs = (performance.now() - d.startedAt) / 1000;
    this.#opts.notify(`download of ${d.rec.name} complete: ${d.finalPath} (${secs.toFixed(2)} s)`);
  }

  async #checkUnchanged(f: ServedFile): Promise<boolean> {
    const ok = await isUnchanged(f);
    if (!ok && this.served.get(f.meta.group, f.meta.name) === f) {
      this.#withdrawLocal(f.meta.group, f.meta.name);
      this.#opts.notify(`stopped sharing ${f.meta.name} in ${f.meta.group}: it changed on disk`);
      if (this.#online) {
        this.#opts.client.request("stop_share", { group: f.meta.group, name: f.meta.name }).catch(
          () => {},
        );
      }
    }
    return ok;
  }

  async #checkAll(): Promise<void> {
    for (const f of this.served.all()) await this.#checkUnchanged(f);
  }

  #withdrawLocal(group: string, name: string): void {
    const f = this.served.get(group, name);
    if (f && f.have === null) this.served.delete(group, name);
    this.db.deleteShare(group, name);
  }
}

function shareArgs(m: FileMeta): Record<string, unknown> {
  return {
    group: m.group,
    name: m.name,
    size: m.size,
    pieceSize: m.pieceSize,
    pieces: m.pieces,
    sha1: m.sha1,
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}
