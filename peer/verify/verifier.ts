/**
 * The main-thread side of file verification: the hashes of a file to share,
 * and the whole-file SHA-1 of each running download, which follows the
 * verified prefix of its `.part` file. Every hash runs in the verify host
 * (verify_host.ts), off the main thread, reached over a MessagePort of its
 * own with its own messages (verify_protocol.ts).
 *
 * The host shares a thread with the piece server instead of having a worker
 * of its own: the piece server's first worker hosts it, and the piece
 * server's pool hands this side the other end of the channel at start (see
 * {@link Verifier.connect}). A worker of its own cost a Deno isolate, about
 * 7.5 MiB more peak RSS in a 1 GiB download, for hashes that can run beside
 * the piece server's reads and sends. Only the thread is shared: the code,
 * its protocol and its port stay here, and nothing in the piece server
 * hashes.
 *
 * The piece server starts with the peer, before any user can share or
 * download (see FileService.listen), so a hash asked for before a host is
 * connected is a mistake: it fails at once with a {@link VerifyError}
 * rather than wait for a host that may never come.
 */
import type { FileHashes } from "./file_hashes.ts";
import type { PrefixHash } from "./prefix_hash.ts";
import { VerifyError } from "./verify_error.ts";
import type { VerifyCommand, VerifyEvent } from "./verify_protocol.ts";

/** Why a hash fails before the verify host is connected. */
const NO_HOST = "No verify host: the piece server has not started";
/** Why a hash fails once the verifier is closed. */
const STOPPED = "Verification stopped";

/** What a hash gets when it ends: its result or its failure. */
type OnEnd = (e: VerifyEvent) => void;

/** The error of an answer that is not the result asked for. */
function failure(e: VerifyEvent): VerifyError {
  return new VerifyError(e.type === "failed" ? e.error : `Unexpected answer ${e.type}`);
}

/** Runs the peer's file hashes in the verify host, over the port it is connected to. */
export class Verifier {
  #port: MessagePort | null = null;
  #jobs = new Map<number, OnEnd>();
  #ids = 0;
  #closed = false;

  /**
   * Connects to the verify host at the other end of `port` (from the piece
   * server's pool, or a test's own channel). The verifier owns the port from
   * now on and closes it with {@link close}.
   */
  connect(port: MessagePort): void {
    if (this.#closed) {
      port.close();
      return;
    }
    this.#port?.close();
    this.#port = port;
    port.onmessage = (ev: MessageEvent<VerifyEvent>) => {
      const onEnd = this.#jobs.get(ev.data.id);
      if (!onEnd) return; // cancelled
      this.#jobs.delete(ev.data.id);
      onEnd(ev.data);
    };
  }

  /** The SHA-1 of every `pieceSize` piece of the file at `path` and of the whole file. */
  hashFile(path: string, pieceSize: number): Promise<FileHashes> {
    return new Promise((resolve, reject) => {
      const id = this.#open((e) => {
        if (e.type === "fileHashed") resolve(e.hashes);
        else reject(failure(e));
      });
      this.#send({ type: "hashFile", id, path, pieceSize });
    });
  }

  /**
   * The whole-file SHA-1 of a download into `path`, fed as its verified
   * prefix grows. The host hears of it with the first verified bytes, not
   * before, so a download's connection set-up has the CPU to itself.
   */
  followPrefix(path: string): PrefixHash {
    const { promise: result, resolve, reject } = Promise.withResolvers<string>();
    result.catch(() => {});
    let id = 0; // 0: the host has not heard of it yet
    let sent = 0;
    let ended = false;
    const post = (upTo: number, size?: number) => {
      if (ended) return;
      try {
        id ||= this.#open((e) => {
          ended = true;
          if (e.type === "prefixHashed") resolve(e.sha1);
          else reject(failure(e));
        });
      } catch (err) {
        // No host to hash in: the download fails at its end with this reason.
        ended = true;
        return reject(err);
      }
      this.#send({ type: "follow", id, path, upTo, size });
    };
    return {
      advance: (bytes) => {
        if (bytes <= sent) return;
        sent = bytes;
        post(bytes);
      },
      finish: (size) => {
        post(size, size);
        return result;
      },
      cancel: () => {
        if (!ended && id !== 0) this.#cancel(id);
        ended = true;
        reject(new VerifyError("Hashing cancelled"));
      },
    };
  }

  /**
   * Closes the port: the hashes still running fail (and the host stops
   * those it can), and later ones are refused.
   */
  close(): void {
    this.#closed = true;
    const ends = [...this.#jobs];
    this.#jobs.clear();
    for (const [id] of ends) this.#send({ type: "cancel", id });
    this.#port?.close();
    this.#port = null;
    for (const [id, onEnd] of ends) onEnd({ type: "failed", id, error: STOPPED });
  }

  /** Registers a hash and returns its id; throws if no host can run it. */
  #open(onEnd: OnEnd): number {
    if (this.#closed) throw new VerifyError(STOPPED);
    if (!this.#port) throw new VerifyError(NO_HOST);
    const id = ++this.#ids;
    this.#jobs.set(id, onEnd);
    return id;
  }

  #send(cmd: VerifyCommand): void {
    this.#port?.postMessage(cmd);
  }

  #cancel(id: number): void {
    this.#jobs.delete(id);
    this.#send({ type: "cancel", id });
  }
}
