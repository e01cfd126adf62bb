/**
 * What `upload_file` checks of a path before it hashes the file: that it is
 * a regular file the peer can read, not too large to share, with a name the
 * trackers accept.
 */
import { MAX_SHARE_SIZE } from "../../shared/constants.ts";
import { describeError } from "../../shared/errors.ts";
import { checkFileName } from "../../shared/names.ts";
import { FileError } from "../download/file_error.ts";

/** A file that may be shared: its real path, its name and what `stat` said of it. */
export interface Uploadable {
  real: string;
  name: string;
  info: Deno.FileInfo;
}

/** Checks `path` for sharing; a {@linkcode FileError} says why it cannot be. */
export async function checkUploadable(path: string): Promise<Uploadable> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    throw new FileError(`cannot read ${path}: ${describeError(err)}`);
  }
  if (!info.isFile) throw new FileError(`${path} is not a regular file`);
  if (info.size > MAX_SHARE_SIZE) {
    const gib = (n: number) => `${(n / 2 ** 30).toFixed(1)} GiB`;
    throw new FileError(
      `${path} is ${gib(info.size)}; files over ${gib(MAX_SHARE_SIZE)} cannot be shared yet`,
    );
  }
  const real = await Deno.realPath(path);
  const name = real.slice(real.lastIndexOf("/") + 1);
  const bad = checkFileName(name);
  if (bad) throw new FileError(bad);
  return { real, name, info };
}
