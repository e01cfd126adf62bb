import assert from "node:assert/strict";
import { KeptTail, MERGE_TAIL_KEY } from "./merge_tail.ts";
import { Store } from "../store/store.ts";

Deno.test("KeptTail sets an unreadable kept tail aside instead of dropping it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "shoal_tail_test_" });
  try {
    const store = new Store(`${dir}/t.db`);
    try {
      store.setMeta(MERGE_TAIL_KEY, "{not json");
      const tail = new KeptTail(store);
      assert.equal(tail.size, 0);
      assert.equal(store.getMeta(MERGE_TAIL_KEY), undefined);
      assert.equal(store.getMeta(`${MERGE_TAIL_KEY}.unreadable`), "{not json");
    } finally {
      store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
