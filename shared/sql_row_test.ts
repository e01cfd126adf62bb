import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { BadRow, blob, int, text, textOrNull } from "./sql_row.ts";

Deno.test("sql_row reads the typed columns of a real sqlite row", () => {
  const db = new DatabaseSync(":memory:");
  db.exec("CREATE TABLE t (s TEXT, n INTEGER, b BLOB, z TEXT)");
  db.prepare("INSERT INTO t VALUES (?, ?, ?, NULL)").run("x", 7, new Uint8Array([1, 2]));
  const row = db.prepare("SELECT * FROM t").get()!;
  assert.equal(text(row, "s"), "x");
  assert.equal(int(row, "n"), 7);
  assert.deepEqual([...blob(row, "b")], [1, 2]);
  assert.equal(textOrNull(row, "z"), null);
  db.close();
});

Deno.test("sql_row throws BadRow naming the column of a wrong type", () => {
  const row = { s: 1, n: "7", b: "no", f: 1.5 };
  assert.throws(() => text(row, "s"), BadRow);
  assert.throws(() => int(row, "n"), /column n is not an integer/);
  assert.throws(() => int(row, "f"), BadRow);
  assert.throws(() => blob(row, "b"), BadRow);
  assert.throws(() => text(row, "missing"), /column missing is not text/);
});
