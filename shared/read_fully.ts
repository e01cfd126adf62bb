/** Reading an exact number of bytes from a file. */

/** Reads exactly `buf.length` bytes; throws if the file ends first. */
export async function readFully(file: Deno.FsFile, buf: Uint8Array): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const n = await file.read(buf.subarray(off));
    if (n === null) throw new Error("File ended before the expected size (did it change?)");
    off += n;
  }
}

/** Reads exactly `buf.length` bytes synchronously; throws if the file ends first. */
export function readFullySync(file: Deno.FsFile, buf: Uint8Array): void {
  let off = 0;
  while (off < buf.length) {
    const n = file.readSync(buf.subarray(off));
    if (n === null) throw new Error("File ended before the expected size (did it change?)");
    off += n;
  }
}
