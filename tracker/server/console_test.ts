import assert from "node:assert/strict";
import { conflictLine } from "./console.ts";

Deno.test("conflictLine() lists a merge conflict on one line: what, from where, why", () => {
  assert.equal(
    conflictLine({
      from: 1,
      reqId: "r-1",
      summary: "create_user alice",
      reason: "user alice already exists",
      at: 1,
    }),
    "conflict: create_user alice from tracker 1 refused: user alice already exists",
  );
});
