/**
 * The tables of `peer.db` and the in-place migration of a database written
 * before shares and downloads belonged to users (schema version 0).
 *
 * Version 1 adds a `user` column to `shares`, `downloads` and `verified`,
 * first in every primary key. Rows of a version-0 database get the user of
 * the stored session (`session.json`) when there is one; otherwise they get
 * the empty user, {@linkcode ORPHAN}: nobody's, until the next user to log in
 * on this peer takes them (see `PeerDb.claimOrphans`).
 */
import type { DatabaseSync } from "node:sqlite";

/** The schema version this code writes (`PRAGMA user_version`). */
export const SCHEMA_VERSION = 1;
/** The user of rows migrated from a version-0 database without a stored session. */
export const ORPHAN = "";

const TABLES: Record<string, { columns: string; key: string; rowid: boolean }> = {
  shares: {
    columns: "grp TEXT NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL, " +
      "mtime INTEGER NOT NULL, piece_size INTEGER NOT NULL, pieces TEXT NOT NULL, " +
      "sha1 TEXT NOT NULL",
    key: "grp, name",
    rowid: true,
  },
  downloads: {
    columns: "grp TEXT NOT NULL, name TEXT NOT NULL, dest TEXT NOT NULL, size INTEGER NOT NULL, " +
      "piece_size INTEGER NOT NULL, pieces TEXT NOT NULL, sha1 TEXT NOT NULL, " +
      "have BLOB NOT NULL, status TEXT NOT NULL, error TEXT",
    key: "grp, name, dest",
    rowid: true,
  },
  verified: {
    columns: "grp TEXT NOT NULL, name TEXT NOT NULL, dest TEXT NOT NULL, piece INTEGER NOT NULL",
    key: "grp, name, dest, piece",
    rowid: false,
  },
};

function createTable(db: DatabaseSync, table: string, as: string): void {
  const t = TABLES[table]!;
  db.exec(
    `CREATE TABLE IF NOT EXISTS ${as} (user TEXT NOT NULL, ${t.columns}, ` +
      `PRIMARY KEY (user, ${t.key}))${t.rowid ? "" : " WITHOUT ROWID"}`,
  );
}

function hasTable(db: DatabaseSync, table: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !==
    undefined;
}

function hasColumn(db: DatabaseSync, table: string, column: string): boolean {
  const cols = db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[];
  return cols.some((c) => c.name === column);
}

/** What {@linkcode prepareSchema} did. */
export interface SchemaResult {
  /** Rows moved from a version-0 database, and the user they were given. */
  migrated: { rows: number; user: string } | null;
}

/**
 * Creates the tables, or migrates a version-0 database in one transaction
 * (a crash leaves it as it was). `legacyUser` is asked only when there is
 * something to migrate.
 */
export function prepareSchema(
  db: DatabaseSync,
  legacyUser: () => string | null,
): SchemaResult {
  const version = (db.prepare("PRAGMA user_version").get() as { user_version: number })
    .user_version;
  if (version >= SCHEMA_VERSION) {
    for (const table of Object.keys(TABLES)) createTable(db, table, table);
    return { migrated: null };
  }
  db.exec("BEGIN IMMEDIATE");
  try {
    let migrated: SchemaResult["migrated"] = null;
    for (const table of Object.keys(TABLES)) {
      if (!hasTable(db, table)) {
        createTable(db, table, table);
        continue;
      }
      if (hasColumn(db, table, "user")) continue;
      const user: string = migrated?.user ?? legacyUser() ?? ORPHAN;
      migrated ??= { rows: 0, user };
      const next = `${table}_v${SCHEMA_VERSION}`;
      db.exec(`DROP TABLE IF EXISTS ${next}`);
      createTable(db, table, next);
      const cols = TABLES[table]!.columns.split(",").map((c) => c.trim().split(" ")[0]).join(", ");
      const res = db.prepare(
        `INSERT INTO ${next} (user, ${cols}) SELECT ?, ${cols} FROM ${table}`,
      ).run(user);
      migrated.rows += Number(res.changes);
      db.exec(`DROP TABLE ${table}`);
      db.exec(`ALTER TABLE ${next} RENAME TO ${table}`);
    }
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    db.exec("COMMIT");
    return { migrated };
  } catch (err) {
    db.exec("ROLLBACK");
    throw err;
  }
}
