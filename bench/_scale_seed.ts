/**
 * Creates the scale benchmark's users without `create_user` requests: with
 * PBKDF2 at 100,000 iterations (about 16 ms a hash, one at a time) creating
 * 10,000 users over the wire would take minutes before the first login. The
 * stopped primary's log gets the `create_user` entries it would have
 * written itself, in its own epoch; the tracker then loads them at start and
 * the secondary catches up as from any log. The stored iterations are those
 * given, so every login still pays its real hash unless told otherwise.
 */
import { hashPassword } from "../tracker/server/passwords.ts";
import { Store } from "../tracker/store/store.ts";
import type { LogEntry } from "../tracker/state/ops.ts";

/** Entries written per transaction. */
const BATCH = 5000;
/** One salt for all (each user's record is its own; the salt only makes the hash). */
const SALT = "5ca1e5ca1e5ca1e5ca1e5ca1e5ca1e5c";

/**
 * Appends `create_user` entries for `users` to the tracker database at
 * `dbPath` (its tracker must be stopped); returns the last index written.
 */
export async function seedUsers(
  dbPath: string,
  options: { users: string[]; password: string; iterations: number },
): Promise<number> {
  const hash = await hashPassword(options.password, SALT, options.iterations);
  const store = new Store(dbPath);
  try {
    const state = store.load();
    let index = state.index;
    const epoch = state.epoch;
    const at = Date.now();
    for (let i = 0; i < options.users.length; i += BATCH) {
      const entries: LogEntry[] = options.users.slice(i, i + BATCH).map((user) => ({
        index: ++index,
        epoch,
        op: { kind: "create_user", user, salt: SALT, hash, iterations: options.iterations, at },
      }));
      store.appendBatch(entries);
    }
    return index;
  } finally {
    store.close();
  }
}
