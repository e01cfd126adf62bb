/**
 * Typed reads of one `node:sqlite` result row. A column that is missing or of
 * another type than the schema says means a damaged database: it throws
 * {@linkcode BadRow} instead of letting a wrong value through.
 */

/** A row as `node:sqlite` returns it. */
export type SqlRow = Record<string, unknown>;

/** A result row does not have the column type its schema promises. */
export class BadRow extends Error {
  constructor(column: string, expected: string) {
    super(`Database column ${column} is not ${expected}`);
    this.name = "BadRow";
  }
}

/** The text in `column`. */
export function text(row: SqlRow, column: string): string {
  const v = row[column];
  if (typeof v !== "string") throw new BadRow(column, "text");
  return v;
}

/** The text in `column`, or null when it is NULL. */
export function textOrNull(row: SqlRow, column: string): string | null {
  return row[column] === null ? null : text(row, column);
}

/** The integer in `column` (a safe JavaScript number). */
export function int(row: SqlRow, column: string): number {
  const v = row[column];
  const n = typeof v === "bigint" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isSafeInteger(n)) throw new BadRow(column, "an integer");
  return n;
}

/** The bytes in `column`. */
export function blob(row: SqlRow, column: string): Uint8Array {
  const v = row[column];
  if (!(v instanceof Uint8Array)) throw new BadRow(column, "a blob");
  return v;
}
