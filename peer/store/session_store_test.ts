import assert from "node:assert/strict";
import { SessionStore } from "./session_store.ts";

Deno.test("SessionStore.loadSync() reads what save() wrote, and null without a file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = new SessionStore(dir);
    assert.equal(store.loadSync(), null);
    await store.save({ user: "alice", token: "t-1" });
    assert.deepEqual(store.loadSync(), { user: "alice", token: "t-1" });
    assert.deepEqual(await store.load(), store.loadSync());
    await Deno.writeTextFile(store.path, "{broken");
    assert.equal(store.loadSync(), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
