/**
 * Durable storage of one tracker: the op log, the latest snapshot and a few
 * settings, in `node:sqlite`. The database runs in WAL mode: a committed row is
 * in the WAL file when `append` returns, so it survives `kill -9` of the
 * process (a power cut may lose the last transactions; the other tracker
 * holds them too).
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { int, type SqlRow, text, textOrNull } from "../../shared/sql_row.ts";
import type { LogEntry, Op } from "../state/ops.ts";
import { type StateSnapshot, TrackerState } from "../state/state.ts";

/** A snapshot is written after this many new log entries. */
export const SNAPSHOT_EVERY = 50_000;
/** Log entries older than the snapshot kept for a secondary's catch-up. */
export const KEEP_LOG = 100_000;

/** The tracker's on-disk state. */
export class Store {
  #db: DatabaseSync;
  #insert: StatementSync;
  #getEntry: StatementSync;
  #range: StatementSync;
  #sinceSnapshot = 0;
  #snapshotEvery: number;
  #keepLog: number;

  /** Opens (or creates) the database at `path`. */
  constructor(path: string, options: { snapshotEvery?: number; keepLog?: number } = {}) {
    this.#snapshotEvery = options.snapshotEvery ?? SNAPSHOT_EVERY;
    this.#keepLog = options.keepLog ?? KEEP_LOG;
    this.#db = new DatabaseSync(path);
    this.#db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS log (
        idx INTEGER PRIMARY KEY, epoch INTEGER NOT NULL, req TEXT, op TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS snapshot (
        id INTEGER PRIMARY KEY CHECK (id = 1), idx INTEGER NOT NULL, data TEXT NOT NULL);
    `);
    this.#insert = this.#db.prepare("INSERT INTO log (idx, epoch, req, op) VALUES (?, ?, ?, ?)");
    this.#getEntry = this.#db.prepare("SELECT idx, epoch, req, op FROM log WHERE idx = ?");
    this.#range = this.#db.prepare(
      "SELECT idx, epoch, req, op FROM log WHERE idx > ? ORDER BY idx LIMIT ?",
    );
  }

  /** Reads a setting. */
  getMeta(key: string): string | undefined {
    const row = this.#db.prepare("SELECT v FROM meta WHERE k = ?").get(key);
    return row ? text(row, "v") : undefined;
  }

  /** Writes a setting durably. */
  setMeta(key: string, value: string): void {
    this.#db.prepare("INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = ?")
      .run(key, value, value);
  }

  /** Rebuilds the state from the snapshot and the log after it. */
  load(): TrackerState {
    const row = this.#db.prepare("SELECT data FROM snapshot WHERE id = 1").get();
    const state = row
      ? TrackerState.fromSnapshot(JSON.parse(text(row, "data")) as StateSnapshot)
      : new TrackerState();
    for (;;) {
      const batch = this.entriesAfter(state.index, 1000);
      if (batch.length === 0) break;
      for (const e of batch) state.apply(e);
      this.#sinceSnapshot += batch.length;
    }
    return state;
  }

  /** Appends one entry (its index must follow the last one). */
  append(entry: LogEntry): void {
    this.appendBatch([entry]);
  }

  /** Appends entries in one transaction (their indexes must follow the last one). */
  appendBatch(entries: LogEntry[]): void {
    if (entries.length === 0) return;
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      for (const e of entries) {
        this.#insert.run(e.index, e.epoch, e.reqId ?? null, JSON.stringify(e.op));
      }
      this.#db.exec("COMMIT");
    } catch (err) {
      this.#db.exec("ROLLBACK");
      throw err;
    }
    this.#sinceSnapshot += entries.length;
  }

  /** Writes a snapshot of `state` when enough entries have accumulated; drops old log. */
  maybeCompact(state: TrackerState): void {
    if (this.#sinceSnapshot < this.#snapshotEvery) return;
    this.writeSnapshot(state, false);
  }

  /**
   * Writes `state` as the snapshot. With `replaceLog` every log entry is
   * dropped (a secondary adopting the primary's snapshot); otherwise entries
   * more than `keepLog` before it are dropped.
   */
  writeSnapshot(state: TrackerState, replaceLog: boolean): void {
    const data = JSON.stringify(state.toSnapshot());
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      this.#db.prepare(
        "INSERT INTO snapshot (id, idx, data) VALUES (1, ?, ?) " +
          "ON CONFLICT(id) DO UPDATE SET idx = excluded.idx, data = excluded.data",
      ).run(state.index, data);
      if (replaceLog) this.#db.prepare("DELETE FROM log").run();
      else this.#db.prepare("DELETE FROM log WHERE idx <= ?").run(state.index - this.#keepLog);
      this.#db.exec("COMMIT");
    } catch (err) {
      this.#db.exec("ROLLBACK");
      throw err;
    }
    this.#sinceSnapshot = 0;
  }

  /** The entry at `index`, if the log still holds it. */
  entry(index: number): LogEntry | undefined {
    const row = this.#getEntry.get(index);
    return row ? toEntry(row) : undefined;
  }

  /** Up to `limit` entries after `index`, in order. */
  entriesAfter(index: number, limit: number): LogEntry[] {
    return this.#range.all(index, limit).map(toEntry);
  }

  /**
   * Where each epoch of the log begins: `[index, epoch]` for the first entry
   * and for every entry whose epoch differs from the one before it.
   */
  epochRuns(): [number, number][] {
    const rows = this.#db.prepare(
      "SELECT idx, epoch FROM (SELECT idx, epoch, LAG(epoch) OVER (ORDER BY idx) AS prev FROM log) " +
        "WHERE prev IS NULL OR prev != epoch ORDER BY idx",
    ).all();
    return rows.map((r) => [int(r, "idx"), int(r, "epoch")]);
  }

  /** Removes a setting. */
  deleteMeta(key: string): void {
    this.#db.prepare("DELETE FROM meta WHERE k = ?").run(key);
  }

  /** The index of the oldest entry the log holds (0 when empty). */
  firstIndex(): number {
    const row = this.#db.prepare("SELECT MIN(idx) AS m FROM log").get();
    return row === undefined || row.m === null ? 0 : int(row, "m");
  }

  /** Closes the database. */
  close(): void {
    this.#db.close();
  }
}

/** A `log` row as an entry; its op was checked when it was proposed or received. */
function toEntry(row: SqlRow): LogEntry {
  const op = JSON.parse(text(row, "op")) as Op;
  const e: LogEntry = { index: int(row, "idx"), epoch: int(row, "epoch"), op };
  const req = textOrNull(row, "req");
  if (req !== null) e.reqId = req;
  return e;
}
