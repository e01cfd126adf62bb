/**
 * The peer's login session on disk, `<stateDir>/session.json`, so that a
 * restarted peer can resume it. Writes are atomic: a temporary file is written
 * and synced, then renamed over the old one.
 */
import { describeError } from "../../shared/errors.ts";
import { log } from "../../shared/log.ts";

const FILE_NAME = "session.json";
const logger = log("peer", "session");

/** A logged-in session as the peer remembers it. */
export interface StoredSession {
  user: string;
  token: string;
}

/** Loads, saves and clears the session file of one peer's state directory. */
export class SessionStore {
  /** Path of the session file. */
  readonly path: string;
  readonly #dir: string;

  constructor(stateDir: string) {
    this.#dir = stateDir;
    this.path = `${stateDir}/${FILE_NAME}`;
  }

  /** The stored session, or null when there is none or the file is corrupt (logged). */
  async load(): Promise<StoredSession | null> {
    let text: string;
    try {
      text = await Deno.readTextFile(this.path);
    } catch (err) {
      return this.#unreadable(err);
    }
    return this.#parse(text);
  }

  /** The same, read synchronously (when the peer database migrates, before the shell runs). */
  loadSync(): StoredSession | null {
    let text: string;
    try {
      text = Deno.readTextFileSync(this.path);
    } catch (err) {
      return this.#unreadable(err);
    }
    return this.#parse(text);
  }

  #unreadable(err: unknown): null {
    if (!(err instanceof Deno.errors.NotFound)) {
      logger.warn("Cannot read {path}: {error}", { path: this.path, error: describeError(err) });
    }
    return null;
  }

  #parse(text: string): StoredSession | null {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = null;
    }
    const v = value as Partial<StoredSession> | null;
    if (typeof v?.user !== "string" || typeof v.token !== "string") {
      logger.warn("Ignoring corrupt session file {path}", { path: this.path });
      return null;
    }
    return { user: v.user, token: v.token };
  }

  /** Saves the session atomically; the file is readable by its owner only. */
  async save(session: StoredSession): Promise<void> {
    await Deno.mkdir(this.#dir, { recursive: true });
    const tmp = `${this.path}.${crypto.randomUUID()}.tmp`;
    const bytes = new TextEncoder().encode(
      JSON.stringify({ user: session.user, token: session.token }) + "\n",
    );
    try {
      const file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 });
      try {
        let off = 0;
        while (off < bytes.length) off += await file.write(bytes.subarray(off));
        await file.sync();
      } finally {
        file.close();
      }
      await Deno.rename(tmp, this.path);
    } catch (err) {
      await Deno.remove(tmp).catch(() => {});
      throw err;
    }
  }

  /** Removes the stored session; a missing file is not an error. */
  async clear(): Promise<void> {
    try {
      await Deno.remove(this.path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
}
