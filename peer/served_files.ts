/**
 * What this peer can serve right now: shared files and the verified pieces of
 * downloads in progress. Downloads update a file's bitfield in place, so a
 * verified piece is served the moment it is recorded.
 */
import type { FileMeta } from "./peer_db.ts";

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

  /** Looks a file up. */
  get(group: string, name: string): ServedFile | undefined {
    return this.#files.get(key(group, name));
  }

  /** Adds or replaces a file. */
  set(file: ServedFile): void {
    this.#files.set(key(file.meta.group, file.meta.name), file);
  }

  /** Stops serving a file. */
  delete(group: string, name: string): void {
    this.#files.delete(key(group, name));
  }

  /** Every served file. */
  all(): ServedFile[] {
    return [...this.#files.values()];
  }
}
