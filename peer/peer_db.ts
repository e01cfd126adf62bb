/**
 * The peer's durable state in `node:sqlite` (`<state-dir>/peer.db`): the files
 * it shares and every unfinished download with the pieces already verified,
 * so that a restart (even after `kill -9`) resumes where it stopped.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { setBit } from "../shared/bitfield.ts";

/** What a peer needs to know about a file to serve or fetch it. */
export interface FileMeta {
  group: string;
  name: string;
  size: number;
  pieceSize: number;
  /** Hex SHA-1 of every piece, concatenated. */
  pieces: string;
  sha1: string;
}

/** A file this peer shares from where it lies. */
export interface ShareRecord extends FileMeta {
  path: string;
  mtime: number;
}

/** A download, finished or not. */
export interface DownloadRecord extends FileMeta {
  dest: string;
  /** Bitfield of verified pieces (piece 0 = high bit of byte 0). */
  have: Uint8Array;
  status: "D" | "C" | "F";
  error: string | null;
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

/**
 * The peer's database. A download's verified pieces are kept as a bitfield
 * plus one row per piece verified since the bitfield was last written, so
 * that recording a piece costs the same for a file of any size.
 */
export class PeerDb {
  #db: DatabaseSync;
  #addPiece: StatementSync;

  /** Opens (or creates) `<dir>/peer.db`. */
  constructor(dir: string) {
    this.#db = new DatabaseSync(`${dir}/peer.db`);
    this.#db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      PRAGMA wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES};
      PRAGMA journal_size_limit = ${WAL_SIZE_LIMIT};
      CREATE TABLE IF NOT EXISTS shares (
        grp TEXT NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL,
        mtime INTEGER NOT NULL, piece_size INTEGER NOT NULL, pieces TEXT NOT NULL,
        sha1 TEXT NOT NULL, PRIMARY KEY (grp, name));
      CREATE TABLE IF NOT EXISTS downloads (
        grp TEXT NOT NULL, name TEXT NOT NULL, dest TEXT NOT NULL, size INTEGER NOT NULL,
        piece_size INTEGER NOT NULL, pieces TEXT NOT NULL, sha1 TEXT NOT NULL,
        have BLOB NOT NULL, status TEXT NOT NULL, error TEXT, PRIMARY KEY (grp, name, dest));
      CREATE TABLE IF NOT EXISTS verified (
        grp TEXT NOT NULL, name TEXT NOT NULL, dest TEXT NOT NULL, piece INTEGER NOT NULL,
        PRIMARY KEY (grp, name, dest, piece)) WITHOUT ROWID;
    `);
    this.#addPiece = this.#db.prepare(
      "INSERT OR IGNORE INTO verified (grp, name, dest, piece) VALUES (?, ?, ?, ?)",
    );
  }

  /** Every share. */
  shares(): ShareRecord[] {
    return (this.#db.prepare("SELECT * FROM shares").all() as unknown as Row[]).map((r) => ({
      group: r.grp,
      name: r.name,
      path: r.path!,
      size: r.size,
      mtime: r.mtime!,
      pieceSize: r.piece_size,
      pieces: r.pieces,
      sha1: r.sha1,
    }));
  }

  /** Adds or replaces a share. */
  putShare(s: ShareRecord): void {
    this.#db.prepare(
      "INSERT OR REPLACE INTO shares (grp, name, path, size, mtime, piece_size, pieces, sha1) " +
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    ).run(s.group, s.name, s.path, s.size, s.mtime, s.pieceSize, s.pieces, s.sha1);
  }

  /** Removes a share. */
  deleteShare(group: string, name: string): void {
    this.#db.prepare("DELETE FROM shares WHERE grp = ? AND name = ?").run(group, name);
  }

  /** Every download, with the pieces verified so far. */
  downloads(): DownloadRecord[] {
    const pieces = this.#db.prepare(
      "SELECT piece FROM verified WHERE grp = ? AND name = ? AND dest = ?",
    );
    return (this.#db.prepare("SELECT * FROM downloads").all() as unknown as Row[]).map((r) => {
      const have = new Uint8Array(r.have!);
      for (const { piece } of pieces.all(r.grp, r.name, r.dest!) as { piece: number }[]) {
        if (piece >= 0 && piece < have.length * 8) setBit(have, piece);
      }
      return { ...this.#download(r), have };
    });
  }

  #download(r: Row): Omit<DownloadRecord, "have"> {
    return {
      group: r.grp,
      name: r.name,
      dest: r.dest!,
      size: r.size,
      pieceSize: r.piece_size,
      pieces: r.pieces,
      sha1: r.sha1,
      status: r.status as DownloadRecord["status"],
      error: r.error ?? null,
    };
  }

  /** Adds or replaces a download (and forgets pieces recorded for an earlier one). */
  putDownload(d: DownloadRecord): void {
    this.#transaction(() => {
      this.#db.prepare("DELETE FROM verified WHERE grp = ? AND name = ? AND dest = ?")
        .run(d.group, d.name, d.dest);
      this.#db.prepare(
        "INSERT OR REPLACE INTO downloads (grp, name, dest, size, piece_size, pieces, sha1, have, " +
          "status, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      ).run(
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

  /** Replaces the verified pieces of a download with `have`. */
  updateHave(d: { group: string; name: string; dest: string }, have: Uint8Array): void {
    this.#transaction(() => {
      this.#db.prepare("UPDATE downloads SET have = ? WHERE grp = ? AND name = ? AND dest = ?")
        .run(have, d.group, d.name, d.dest);
      this.#db.prepare("DELETE FROM verified WHERE grp = ? AND name = ? AND dest = ?")
        .run(d.group, d.name, d.dest);
    });
  }

  #transaction(f: () => void): void {
    this.#db.exec("BEGIN");
    try {
      f();
      this.#db.exec("COMMIT");
    } catch (err) {
      this.#db.exec("ROLLBACK");
      throw err;
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
  addPiece(d: { group: string; name: string; dest: string }, piece: number): void {
    this.#addPiece.run(d.group, d.name, d.dest, piece);
  }

  /** Records how a download ended. */
  setStatus(
    d: { group: string; name: string; dest: string },
    status: DownloadRecord["status"],
    error: string | null,
  ): void {
    this.#db.prepare(
      "UPDATE downloads SET status = ?, error = ? WHERE grp = ? AND name = ? AND dest = ?",
    )
      .run(status, error, d.group, d.name, d.dest);
  }

  /** Closes the database. */
  close(): void {
    this.#db.close();
  }
}

interface Row {
  grp: string;
  name: string;
  path?: string;
  dest?: string;
  size: number;
  mtime?: number;
  piece_size: number;
  pieces: string;
  sha1: string;
  have?: Uint8Array;
  status?: string;
  error?: string | null;
}
