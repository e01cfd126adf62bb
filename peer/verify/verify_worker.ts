/**
 * The verify worker (a Web Worker): the file hashes of the peer, off the main
 * thread. It hashes files to share ({@link hashFile}) and follows the
 * verified prefix of each running download ({@link PrefixHasher}); the
 * verifier (verifier.ts) starts it for the first hash and stops it when none
 * is left.
 */
/// <reference lib="deno.worker" />
import { describeError } from "../../shared/errors.ts";
import { hashFile } from "./file_hashes.ts";
import { PrefixHasher } from "./prefix_hash.ts";
import type { VerifyCommand, VerifyEvent } from "./verify_protocol.ts";

/** The downloads' prefix hashes, by id. */
const prefixes = new Map<number, PrefixHasher>();

function post(e: VerifyEvent): void {
  self.postMessage(e);
}

function failed(id: number): (err: unknown) => void {
  return (err) => post({ type: "failed", id, error: describeError(err) });
}

function follow(m: VerifyCommand & { type: "follow" }): void {
  let h = prefixes.get(m.id);
  if (!h) {
    h = new PrefixHasher(m.path);
    prefixes.set(m.id, h);
    h.result.then((sha1) => post({ type: "prefixHashed", id: m.id, sha1 }), failed(m.id))
      .finally(() => prefixes.delete(m.id));
  }
  if (m.size === undefined) h.advance(m.upTo);
  else h.finish(m.size);
}

self.onmessage = (ev: MessageEvent<VerifyCommand>) => {
  const m = ev.data;
  switch (m.type) {
    case "hashFile":
      hashFile(m.path, m.pieceSize).then(
        (hashes) => post({ type: "fileHashed", id: m.id, hashes }),
        failed(m.id),
      );
      break;
    case "follow":
      follow(m);
      break;
    case "cancel":
      prefixes.get(m.id)?.cancel();
      prefixes.delete(m.id);
      break;
  }
};
