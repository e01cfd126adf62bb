/**
 * The peer's file side: sharing (upload_file, stop_share, re-offering after
 * login), downloads (see download_manager.ts) and the piece server, with the
 * state kept in {@linkcode PeerDb} for restarts.
 *
 * Shares and downloads belong to the user who made them. Several users may
 * use one peer in turn: only the logged-in user's shares are offered and
 * served and only their downloads run; a login neither withdraws nor takes
 * over another user's.
 */
import { PIECE_SIZE } from "../../shared/constants.ts";
import { describeError } from "../../shared/errors.ts";
import { log } from "../../shared/log.ts";
import { type Endpoint, formatEndpoint } from "../../shared/tracker_info.ts";
import type { DownloadDriver } from "../download/driver.ts";
import { DownloadManager, type WaitOptions } from "../download/download_manager.ts";
import { FileError } from "../download/file_error.ts";
import { DownloadCounters } from "../download/download_counters.ts";
import { Verifier } from "../verify/verifier.ts";
import { type FileMeta, PeerDb, type ShareRecord } from "../store/peer_db.ts";
import { defaultServerWorkers, ServerPool } from "../serve/server_pool.ts";
import { isUnchanged, type ServedFile, ServedFiles } from "../serve/served_files.ts";
import { SessionStore } from "../store/session_store.ts";
import type { TrackerClient } from "../tracker_client/tracker_client.ts";
import type { IdentityTls, PeerIdentity } from "../tracker_client/identity.ts";
import { WorkerPool } from "../download/worker_pool.ts";
import { checkUploadable } from "./upload_file.ts";

export { FileError } from "../download/file_error.ts";

const logger = log("peer", "files");

/** How often shared files are checked for changes on disk. */
export const CHANGE_CHECK_MS = 5000;
/** How long a stopping peer waits for the trackers to hear that it no longer serves. */
export const AWAY_TIMEOUT_MS = 2000;

/** Options for {@linkcode FileService}. */
export interface FileServiceOptions {
  addr: Endpoint;
  stateDir: string;
  client: Pick<TrackerClient, "request">;
  /** This peer's key and certificate: shown by the piece server and the transfer workers. */
  identity: Pick<PeerIdentity, "ca" | "keyId" | "tls" | "onChange">;
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
  readonly downloads: DownloadManager;
  /** What the downloads have fetched (for /metrics). */
  readonly counters = new DownloadCounters();
  server: ServerPool | null = null;
  #opts: FileServiceOptions;
  #pool: WorkerPool;
  #grantKey: string | null = null;
  /** The logged-in user, whose files are offered and served; null when nobody is. */
  #user: string | null = null;
  #online = false;
  #checkTimer: ReturnType<typeof setInterval> | undefined;
  /** True once the trackers have heard that this session serves (see online()). */
  #serving = false;
  /**
   * File hashes: uploads' and downloads' whole-file SHA-1s, in the verify host
   * on the first piece-server worker's thread; connected in listen(), which
   * the peer runs at start, so every hash a user asks for has its host.
   */
  #verifier = new Verifier();

  constructor(opts: FileServiceOptions) {
    this.#opts = opts;
    // A peer.db from before users: its rows belong to the user of the stored session, if any.
    this.db = new PeerDb(opts.stateDir, {
      legacyUser: () => new SessionStore(opts.stateDir).loadSync()?.user ?? null,
    });
    const migrated = this.db.schema.migrated;
    if (migrated) {
      logger.info("Gave the {rows} shares and downloads of the old peer.db to {user}", {
        rows: migrated.rows,
        user: migrated.user || "the next user to log in",
      });
    }
    this.#pool = new WorkerPool(opts.workers);
    this.downloads = new DownloadManager({
      db: this.db,
      served: this.served,
      pool: this.#pool,
      client: opts.client,
      id: opts.identity.keyId,
      verifier: this.#verifier,
      notify: opts.notify,
      ended: (d) => this.#finished(d),
      counters: this.counters,
    });
    opts.identity.onChange((tls) => this.#showIdentity(tls));
  }

  /** The logged-in user, or null. */
  get user(): string | null {
    return this.#user;
  }

  /** Starts the piece server on the peer's address: workers sharing the port. */
  async listen(): Promise<void> {
    try {
      this.server = await ServerPool.start(this.#opts.addr, {
        count: this.#opts.serverWorkers ?? defaultServerWorkers(),
        ca: this.#opts.identity.ca,
        onChanged: (group, name) => {
          const f = this.served.get(group, name);
          if (f) this.#checkUnchanged(f);
        },
      });
    } catch (err) {
      throw new FileError(
        `cannot listen on ${formatEndpoint(this.#opts.addr)}: ${describeError(err)}`,
      );
    }
    const server = this.server;
    this.#showIdentity(this.#opts.identity.tls);
    this.#verifier.connect(server.verifyPort);
    server.onLost = () => this.#verifier.close(); // its hashes fail instead of hanging
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

  /** The piece server and the transfer workers show `tls` from now on (null: nothing). */
  #showIdentity(tls: IdentityTls | null): void {
    this.server?.setIdentity(tls && { cert: tls.cert, key: tls.key });
    this.#pool.setIdentity(tls);
  }

  /** Stops everything: transfers, the piece server, the workers, the database. */
  async close(): Promise<void> {
    clearInterval(this.#checkTimer);
    this.downloads.stopAll();
    await this.server?.close();
    this.#verifier.close();
    this.#pool.terminate();
    this.db.close();
  }

  /**
   * After `user`'s login or resumed session: offers their shares again (those
   * unchanged on disk) and continues their unfinished downloads. Another
   * user's files, if one was logged in, stop being served first.
   */
  async online(user: string, grantKey: unknown): Promise<void> {
    if (this.#user !== null && this.#user !== user) this.offline();
    this.#user = user;
    const claimed = this.db.claimOrphans(user);
    if (claimed.shares + claimed.downloads > 0) {
      this.#opts.notify(
        `${user} takes over ${claimed.shares} shares and ${claimed.downloads} downloads ` +
          "recorded on this peer before they belonged to users",
      );
    }
    for (const s of this.db.shares(user)) {
      if (this.served.get(s.group, s.name)?.path === s.path) continue;
      this.served.set({ meta: s, path: s.path, have: null, mtime: s.mtime });
    }
    if (typeof grantKey === "string") this.#grantKey = grantKey;
    this.server?.setKey(this.#grantKey);
    this.#online = true;
    // A session resumed after a quit was marked away (see away()); lookups list this peer again.
    this.#serving = false;
    await this.#serveAgain();
    // A download from one seeder needs one worker: start it now so that the download does not wait.
    this.#pool.warm(1);
    for (const f of this.served.all()) {
      if (f.have !== null) continue; // downloads report their pieces when they continue
      if (!(await this.#checkUnchanged(f))) continue;
      if (this.#user !== user) return; // logged out meanwhile
      const res = await this.#opts.client.request("share_file", shareArgs(f.meta));
      if (!res.ok) {
        this.#withdrawLocal(f.meta.group, f.meta.name);
        this.#opts.notify(`stopped sharing ${f.meta.name} in ${f.meta.group}: ${res.error}`);
      }
    }
    if (this.#user !== user) return;
    await this.downloads.online(user);
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

  /**
   * After logout (or when the session is gone): the user's transfers stop
   * (they continue at the next login) and none of their files is served.
   */
  offline(): void {
    this.#online = false;
    this.#user = null;
    this.server?.setKey(null);
    this.downloads.offline();
    this.served.clear();
  }

  /** `upload_file`: hashes the file (in a worker) and shares it in the group. */
  async upload(path: string, group: string): Promise<string> {
    const user = this.#me();
    const { real, name, info } = await checkUploadable(path);
    const h = await this.#verifier.hashFile(real, PIECE_SIZE);
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
    if (this.#user !== user) throw new FileError(`${user} logged out while ${name} was shared`);
    const share: ShareRecord = { ...meta, user, path: real, mtime: info.mtime?.getTime() ?? 0 };
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
  download(group: string, name: string, destDir: string): Promise<string> {
    return this.downloads.download(group, name, destDir);
  }

  /** `show_downloads`: the logged-in user's downloads, or every user's when nobody is. */
  showDownloads(): string[] {
    return this.downloads.show();
  }

  /** Resolves when every running download has ended (see {@linkcode DownloadManager.wait}). */
  waitAll(options: WaitOptions = {}): Promise<void> {
    return this.downloads.wait(options);
  }

  #me(): string {
    if (this.#user === null) throw new FileError("not logged in");
    return this.#user;
  }

  async #finished(d: DownloadDriver): Promise<void> {
    try {
      await this.#announceEnd(d);
    } finally {
      this.#checkpointIfIdle();
    }
  }

  /** With no download left running, the database's log is folded in (see PeerDb.checkpoint). */
  #checkpointIfIdle(): void {
    if (this.downloads.busy) return;
    try {
      this.db.checkpoint();
    } catch (err) {
      logger.warn("Cannot checkpoint the peer database: {error}", { error: describeError(err) });
    }
  }

  async #announceEnd(d: DownloadDriver): Promise<void> {
    if (d.status === "F") {
      this.#opts.notify(`download of ${d.rec.name} failed: ${d.error}`);
      return;
    }
    const st = await Deno.stat(d.finalPath);
    const user = d.rec.user ?? "";
    const meta: FileMeta = fileMeta(d.rec);
    const share: ShareRecord = {
      ...meta,
      user,
      path: d.finalPath,
      mtime: st.mtime?.getTime() ?? 0,
    };
    this.db.putShare(share);
    if (this.#user !== user) {
      // Its user logged out during the final hash: the file is offered at their next login.
      this.#opts.notify(`download of ${d.rec.name} complete: ${d.finalPath}`);
      return;
    }
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

  /**
   * After `leave_group`: this user's shares in the group are withdrawn here
   * too, and nothing of the group is served any more (its connections close);
   * downloads from it end when the trackers refuse their next lookups.
   */
  leftGroup(group: string): void {
    for (const f of this.served.all()) {
      if (f.meta.group !== group) continue;
      this.#withdrawLocal(group, f.meta.name);
      this.served.delete(group, f.meta.name);
    }
  }

  /** The logged-in user no longer shares the file (here). */
  #withdrawLocal(group: string, name: string): void {
    const f = this.served.get(group, name);
    if (f && f.have === null) this.served.delete(group, name);
    if (this.#user !== null) this.db.deleteShare({ user: this.#user, group, name });
  }
}

function shareArgs(m: FileMeta): Record<string, unknown> {
  return { ...fileMeta(m) };
}

function fileMeta(m: FileMeta): FileMeta {
  return {
    group: m.group,
    name: m.name,
    size: m.size,
    pieceSize: m.pieceSize,
    pieces: m.pieces,
    sha1: m.sha1,
  };
}
