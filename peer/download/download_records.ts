/** Where a download's files lie, and which records name the same download. */

/** What names a download's files: its folder and file name. */
export interface DownloadPlace {
  dest: string;
  name: string;
}

/** Where the pieces are written until the file is complete. */
export function partPathOf(rec: DownloadPlace): string {
  return `${rec.dest}/${rec.name}.part`;
}

/** The final path of the downloaded file. */
export function finalPathOf(rec: DownloadPlace): string {
  return `${rec.dest}/${rec.name}`;
}

/** True when `a` and `b` are one user's file of one group. */
export function sameFile(
  a: { user?: string; group: string; name: string },
  b: { user?: string; group: string; name: string },
): boolean {
  return a.user === b.user && a.group === b.group && a.name === b.name;
}

/** True when `a` and `b` are one download: the same user's file, into the same folder. */
export function sameDownload(
  a: { user?: string; group: string; name: string; dest: string },
  b: { user?: string; group: string; name: string; dest: string },
): boolean {
  return sameFile(a, b) && a.dest === b.dest;
}

/** True when something (a file, a folder, a dangling link) is at `path`. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Creates (or empties) a `.part` file of `size` bytes. */
export async function createPart(path: string, size: number): Promise<void> {
  using f = await Deno.open(path, { write: true, create: true, truncate: true });
  await f.truncate(size);
}
