import assert from "node:assert/strict";
import { ConfigError } from "../errors.ts";
import { deriveCa } from "./ca.ts";
import { CA_FILE, caPathFor, readCa, writeCa } from "./ca_file.ts";

Deno.test("caPathFor() puts ca.pem in tracker_info's folder", () => {
  assert.equal(caPathFor("/srv/shoal/tracker_info.txt"), "/srv/shoal/ca.pem");
  assert.equal(caPathFor("conf/tracker_info"), "conf/ca.pem");
  assert.equal(caPathFor("tracker_info.txt"), CA_FILE);
});

Deno.test("writeCa() writes a missing ca.pem, keeps the same one and refuses another cluster's", async () => {
  const dir = await Deno.makeTempDir({ prefix: "shoal_ca_test_" });
  try {
    const path = `${dir}/ca.pem`;
    const ca = await deriveCa(crypto.getRandomValues(new Uint8Array(32)));
    await writeCa(path, ca.certPem);
    assert.equal(await Deno.readTextFile(path), ca.certPem);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o644);
    await writeCa(path, ca.certPem);
    const other = await deriveCa(crypto.getRandomValues(new Uint8Array(32)));
    await assert.rejects(
      writeCa(path, other.certPem),
      (err: Error) =>
        err instanceof ConfigError && err.message === `${path} is the CA of another cluster key`,
    );
    assert.equal(await readCa(path), ca.certPem);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readCa() without a file says in one line where to get it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "shoal_ca_test_" });
  try {
    const path = `${dir}/ca.pem`;
    await assert.rejects(readCa(path), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(
        err.message,
        `no CA certificate at ${path}: copy ca.pem from a tracker's tracker_info folder, or pass --ca <file>`,
      );
      return true;
    });
    await Deno.writeTextFile(path, "not a certificate\n");
    await assert.rejects(readCa(path), /holds no PEM certificate/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
