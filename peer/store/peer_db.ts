/**
 * The peer's durable state in `node:sqlite` (`<state-dir>/peer.db`): the files
 * it shares and its downloads (unfinished ones with the pieces already
 * verified, so that a restart, even after `kill -9`, resumes where it
 * stopped). Every share and download belongs to a user: several users may
 * use one peer in turn, and each one's records are kept apart
 * (see peer_db_schema.ts).
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { FileMeta } from "../../shared/protocol/client_answers.ts";
import { setBit } from "../../shared/bitfield.ts";
import { BadRow, blob, int, text, textOrNull } from "../../shared/sql_row.ts";
import { ORPHAN, prepareSchema, type SchemaResult } from "./peer_db_schema.ts";

export { ORPHAN } from "./peer_db_schema.ts";

/** What a peer needs to know about a file to serve or fetch it. */
export type { FileMeta };

/** Which share: a user's file in a group. */
export interface ShareKey {
  user: string;
  group: string;
  name: string;
}

/** A file a user shares from this peer, from where it lies. */
export interface ShareRecord extends FileMeta {
  user: string;
  path: string;
  mtime: number;
}

/**
 * Which download: a user's file from a group into a folder. A key without a
 * user (a record made by code that predates users) means {@linkcode ORPHAN}.
 */
export interface DownloadKey {
  user?: string;
  group: string;
  name: string;
  dest: string;
}

/**
 * How a download stands: downloading (or waiting for its user to log in),
 * paused by its user, complete, failed.
 */
export type DownloadStatus = "D" | "P" | "C" | "F";

/** A download, finished or not. */
export interface DownloadRecord extends FileMeta {
  /** Whose download it is; every record this peer makes or reads has one. */
  user?: string;
  dest: string;
  /** Bitfield of verified pieces (piece 0 = high bit of byte 0). */
  have: Uint8Array;
  status: DownloadStatus;
  error: string | null;
}

/** Options for {@linkcode PeerDb}. */
export interface PeerDbOptions {
  /**
   * The user to give the rows of a database written before records belonged
   * to users (asked only then); null leaves them to {@linkcode ORPHAN}.
   */
  legacyUser?: () => string | null;
}

/**
 * Pages of write-ahead log after which a commit checkpoints it into the
 * database (SQLite's default is 1000). Every verified piece is one commit of
 * a page or two, and a checkpoint's fsync waits for the kernel to write out
 * the download's own data first: with the default, the main thread stalled
 * about 200 ms twice per GiB downloaded. At this size it checkpoints once
 * every several GiB, and {@link PeerDb.checkpoint} does it when no download
 * runs.
 */
const WAL_CHECKPOINT_PAGES = 16384;
/** Bytes the log file is cut back to after a checkpoint. */
const WAL_SIZE_LIMIT = 4 * 1024 * 1024;

const DOWNLOAD_KEY = "user = ? AND grp = ? AND name = ? AND dest = ?";

/** The values for {@linkcode DOWNLOAD_KEY}. */
function keyOf(d: DownloadKey): [string, string, string, string] {
  return [d.user ?? ORPHAN, d.group, d.name, d.dest];
}

/**
 * The peer's database. A download's verified pieces are kept as a bitfield
 * plus one row per piece verified since the bitfield was last written, so
 * that recording a piece costs the same for a file of any size.
 */
export class PeerDb {
  /** What opening the database did to its schema (a migration, if any). */
  readonly schema: SchemaResult;
  #db: DatabaseSync;
  #addPiece: StatementSync;
  #depth = 0;

  /** Opens (or creates, or migrates) `<dir>/peer.db`. */
  constructor(dir: string, options: PeerDbOptions = {}) {
    this.#db = new DatabaseSync(`${dir}/peer.db`);
    this.#db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      PRAGMA wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES};
      PRAGMA journal_size_limit = ${WAL_SIZE_LIMIT};
      PRAGMA busy_timeout = 5000;
    `);
    this.schema = prepareSchema(this.#db, options.legacyUser ?? (() => null));
    this.#addPiece = this.#db.prepare(
      "INSERT OR IGNORE INTO verified (user, grp, name, dest, piece) VALUES (?, ?, ?, ?, ?)",
    );
  }

  /** Every share of `user` (of every user when omitted), oldest first. */
  shares(user?: string): ShareRecord[] {
    const rows = user === undefined
      ? this.#db.prepare("SELECT * FROM shares ORDER BY rowid").all()
      : this.#db.prepare("SELECT * FROM shares WHERE user = ? ORDER BY rowid").all(user);
    return rows.map((r) => ({
      user: text(r, "user"),
      group: text(r, "grp"),
      name: text(r, "name"),
      path: text(r, "path"),
      size: int(r, "size"),
      mtime: int(r, "mtime"),
      pieceSize: int(r, "piece_size"),
      pieces: text(r, "pieces"),
      sha1: text(r, "sha1"),
    }));
  }

  /** Adds or replaces a share. */
  putShare(s: ShareRecord): void {
    this.#db.prepare(
      "INSERT OR REPLACE INTO shares (user, grp, name, path, size, mtime, piece_size, pieces, " +
        "sha1) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ).run(s.user, s.group, s.name, s.path, s.size, s.mtime, s.pieceSize, s.pieces, s.sha1);
  }

  /** Removes a share. */
  deleteShare(s: ShareKey): void {
    this.#db.prepare("DELETE FROM shares WHERE user = ? AND grp = ? AND name = ?")
      .run(s.user, s.group, s.name);
  }

  /** The downloads of `user` (of every user when omitted), oldest first, with their pieces. */
  downloads(user?: string): DownloadRecord[] {
    return this.downloadList(user).map((r) => this.withPieces(r));
  }

  /**
   * The same without the pieces verified since the bitfield was last
   * written: `have` is that bitfield (cheap while a download runs).
   */
  downloadList(user?: string): DownloadRecord[] {
    const rows = user === undefined
      ? this.#db.prepare("SELECT * FROM downloads ORDER BY rowid").all()
      : this.#db.prepare("SELECT * FROM downloads WHERE user = ? ORDER BY rowid").all(user);
    return rows.map((r) => ({
      user: text(r, "user"),
      group: text(r, "grp"),
      name: text(r, "name"),
      dest: text(r, "dest"),
      size: int(r, "size"),
      pieceSize: int(r, "piece_size"),
      pieces: text(r, "pieces"),
      sha1: text(r, "sha1"),
      have: new Uint8Array(blob(r, "have")),
      status: downloadStatus(text(r, "status")),
      error: textOrNull(r, "error"),
    }));
  }

  /** `rec` with every verified piece in its bitfield (a copy). */
  withPieces(rec: DownloadRecord): DownloadRecord {
    const have = new Uint8Array(rec.have);
    const pieces = this.#db.prepare(`SELECT piece FROM verified WHERE ${DOWNLOAD_KEY}`)
      .all(...keyOf(rec)) as { piece: number }[];
    for (const { piece } of pieces) {
      if (piece >= 0 && piece < have.length * 8) setBit(have, piece);
    }
    return { ...rec, have };
  }

  /** Adds or replaces a download (and forgets pieces recorded for an earlier one). */
  putDownload(d: DownloadRecord): void {
    this.#transaction(() => {
      this.#db.prepare(`DELETE FROM verified WHERE ${DOWNLOAD_KEY}`)
        .run(...keyOf(d));
      this.#db.prepare(
        "INSERT OR REPLACE INTO downloads (user, grp, name, dest, size, piece_size, pieces, sha1, " +
          "have, status, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      ).run(
        d.user ?? ORPHAN,
        d.group,
        d.name,
        d.dest,
        d.size,
        d.pieceSize,
        d.pieces,
        d.sha1,
        d.have,
        d.status,
        d.error,
      );
    });
  }

  /** Forgets a download and its verified pieces. */
  deleteDownload(d: DownloadKey): void {
    this.#transaction(() => {
      this.#db.prepare(`DELETE FROM verified WHERE ${DOWNLOAD_KEY}`)
        .run(...keyOf(d));
      this.#db.prepare(`DELETE FROM downloads WHERE ${DOWNLOAD_KEY}`)
        .run(...keyOf(d));
    });
  }

  /** Forgets the complete and failed downloads of `user`; returns how many. */
  clearEnded(user: string): number {
    let n = 0;
    this.#transaction(() => {
      for (const d of this.downloadList(user)) {
        if (d.status !== "C" && d.status !== "F") continue;
        this.deleteDownload(d);
        n++;
      }
    });
    return n;
  }

  /** Replaces the verified pieces of a download with `have`. */
  updateHave(d: DownloadKey, have: Uint8Array): void {
    this.#transaction(() => {
      this.#db.prepare(`UPDATE downloads SET have = ? WHERE ${DOWNLOAD_KEY}`)
        .run(have, ...keyOf(d));
      this.#db.prepare(`DELETE FROM verified WHERE ${DOWNLOAD_KEY}`)
        .run(...keyOf(d));
    });
  }

  /**
   * Gives `user` the shares and downloads of {@linkcode ORPHAN} (migrated
   * without a known owner); returns how many of each. A share or download
   * the user already has under the same key stays theirs; the orphan goes.
   */
  claimOrphans(user: string): { shares: number; downloads: number } {
    const out = { shares: 0, downloads: 0 };
    if (user === ORPHAN) return out;
    this.#transaction(() => {
      for (const table of ["shares", "downloads", "verified"]) {
        const res = this.#db.prepare(`UPDATE OR IGNORE ${table} SET user = ? WHERE user = ?`)
          .run(user, ORPHAN);
        if (table === "shares") out.shares = Number(res.changes);
        if (table === "downloads") out.downloads = Number(res.changes);
        this.#db.prepare(`DELETE FROM ${table} WHERE user = ?`).run(ORPHAN);
      }
    });
    return out;
  }

  /** Runs `f` in a transaction; one inside another joins it. */
  #transaction(f: () => void): void {
    if (this.#depth > 0) return f();
    this.#db.exec("BEGIN");
    this.#depth++;
    try {
      f();
      this.#db.exec("COMMIT");
    } catch (err) {
      this.#db.exec("ROLLBACK");
      throw err;
    } finally {
      this.#depth--;
    }
  }

  /**
   * Copies the write-ahead log into the database, without waiting for
   * readers or writers (it may stall on fsync: call it when no download runs).
   */
  checkpoint(): void {
    this.#db.exec("PRAGMA wal_checkpoint(PASSIVE)");
  }

  /** Records that one more piece of a download is verified. */
  addPiece(d: DownloadKey, piece: number): void {
    this.#addPiece.run(...keyOf(d), piece);
  }

  /** Records how a download stands. */
  setStatus(d: DownloadKey, status: DownloadStatus, error: string | null): void {
    this.#db.prepare(`UPDATE downloads SET status = ?, error = ? WHERE ${DOWNLOAD_KEY}`)
      .run(status, error, ...keyOf(d));
  }

  /** Closes the database. */
  close(): void {
    this.#db.close();
  }
}

const STATUSES: readonly DownloadStatus[] = ["D", "P", "C", "F"];

function downloadStatus(v: string): DownloadStatus {
  const status = STATUSES.find((s) => s === v);
  if (status === undefined) throw new BadRow("status", "a download status");
  return status;
}
