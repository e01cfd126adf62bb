import assert from "node:assert/strict";
import { argsOf } from "./api.ts";

Deno.test("argsOf() takes arguments by parameter name, in order, or as a list", () => {
  assert.deepEqual(argsOf("accept_request", { group_id: "g1", user_id: "bob" }), ["g1", "bob"]);
  assert.deepEqual(argsOf("download_file", { group_id: "g1", file_name: "a.bin" }), [
    "g1",
    "a.bin",
  ]);
  assert.deepEqual(
    argsOf("download_file", { group_id: "g1", file_name: "a", destination_dir: "/tmp" }),
    ["g1", "a", "/tmp"],
  );
  assert.deepEqual(argsOf("login", { args: ["alice", "pw"] }), ["alice", "pw"]);
  assert.deepEqual(argsOf("whoami", {}), []);
});

Deno.test("argsOf() refuses arguments that are not strings", () => {
  assert.throws(() => argsOf("create_group", { group_id: 5 }), /group_id must be a string/);
  assert.throws(() => argsOf("login", { args: ["a", 1] }), /args must be a list of strings/);
  assert.throws(() => argsOf("login", { args: "a b" }), /args must be a list of strings/);
});
