/**
 * The verify host: the file hashes of the peer, served to the main thread's
 * `Verifier` (verifier.ts) over a MessagePort of their own. It hashes
 * files to share ({@link hashFile}) and follows the verified prefix of each
 * running download ({@link PrefixHasher}).
 *
 * It runs on the thread of the first piece-server worker, which calls
 * {@link hostVerify} on the port it is given at start. A worker of its own
 * would cost a whole Deno isolate (about 7.5 MiB more peak RSS in a 1 GiB
 * download) for hashes that can run beside the piece server's reads and
 * sends, in a thread that exists anyway. Only the thread is shared: the code and its messages stay here
 * (this module, verify_protocol.ts and a port of their own), the piece
 * server knows nothing of hashing beyond that one call, and the host could
 * move to another thread by handing that thread the port.
 */
import { describeError } from "../../shared/errors.ts";
import { hashFile } from "./file_hashes.ts";
import { PrefixHasher } from "./prefix_hash.ts";
import type { VerifyCommand, VerifyEvent } from "./verify_protocol.ts";

/**
 * Serves the {@link VerifyCommand}s that arrive on `port` in the calling
 * thread, answering each hash's end with a {@link VerifyEvent}; it stops when
 * the port is closed (the hashes already running finish first).
 */
export function hostVerify(port: MessagePort): void {
  /** The downloads' prefix hashes, by id. */
  const prefixes = new Map<number, PrefixHasher>();
  const post = (e: VerifyEvent) => port.postMessage(e);
  const failed = (id: number) => (err: unknown) =>
    post({ type: "failed", id, error: describeError(err) });

  const follow = (m: VerifyCommand & { type: "follow" }) => {
    let h = prefixes.get(m.id);
    if (!h) {
      h = new PrefixHasher(m.path);
      prefixes.set(m.id, h);
      h.result.then((sha1) => post({ type: "prefixHashed", id: m.id, sha1 }), failed(m.id))
        .finally(() => prefixes.delete(m.id));
    }
    if (m.size === undefined) h.advance(m.upTo);
    else h.finish(m.size);
  };

  port.onmessage = (ev: MessageEvent<VerifyCommand>) => {
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
}
