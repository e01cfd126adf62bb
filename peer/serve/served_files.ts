/**
 * What this peer can serve right now: shared files and the verified pieces of
 * downloads in progress. Downloads update a file's bitfield in place, so a
 * verified piece is served the moment it is recorded.
 */
import type { FileMeta } from "../store/peer_db.ts";

/** A file the piece server may read from. */
export interface ServedFile {
  meta: FileMeta;
  /** Where the bytes are: the shared file, or the `.part` of a download. */
  path: string;
  /** Verified pieces; null when the file is complete. */
  have: Uint8Array | null;
  /** For shared files: size and mtime when shared, to notice changes. */
  mtime?: number;
}

function key(group: string, name: string): string {
  return `${group}\u0000${name}`;
}

/** The registry of served files, keyed by group and name. */
export class ServedFiles {
  #files = new Map<string, ServedFile>();
  /** Called after every change (to mirror the registry into the server workers). */
  onChange: ((file: ServedFile | { group: string; name: string; deleted: true }) => void) | null =
    null;

  /** Looks a file up. */
  get(group: string, name: string): ServedFile | undefined {
    return this.#files.get(key(group, name));
  }

  /** Adds or replaces a file. */
  set(file: ServedFile): void {
    this.#files.set(key(file.meta.group, file.meta.name), file);
    this.onChange?.(file);
  }

  /** Stops serving a file. */
  delete(group: string, name: string): void {
    if (this.#files.delete(key(group, name))) this.onChange?.({ group, name, deleted: true });
  }

  /** Stops serving every file. */
  clear(): void {
    for (const f of this.all()) this.delete(f.meta.group, f.meta.name);
  }

  /** Every served file. */
  all(): ServedFile[] {
    return [...this.#files.values()];
  }
}

/** A copy of `bits` in shared memory, so that piece-server workers see every update. */
export function sharedBitfield(bits: Uint8Array): Uint8Array {
  if (bits.buffer instanceof SharedArrayBuffer) return bits;
  const shared = new Uint8Array(new SharedArrayBuffer(bits.length));
  shared.set(bits);
  return shared;
}

/** False when a shared file's size or modification time differs from when it was shared. */
export async function isUnchanged(f: ServedFile): Promise<boolean> {
  if (f.have !== null || f.mtime === undefined) return true;
  try {
    const st = await Deno.stat(f.path);
    return st.isFile && st.size === f.meta.size && (st.mtime?.getTime() ?? 0) === f.mtime;
  } catch {
    return false;
  }
}
