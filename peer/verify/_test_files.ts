/** Test helpers of peer/verify: a temporary file of random bytes and its SHA-1. */
import { createHash } from "node:crypto";

/** Runs `f` on a fresh file of `size` random bytes (`f.part` in a temporary directory). */
export async function withFile(
  size: number,
  f: (path: string, data: Uint8Array) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
    await Deno.writeFile(`${dir}/f.part`, data);
    await f(`${dir}/f.part`, data);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The hex SHA-1 of `data`, computed here in one go. */
export const sha1 = (data: Uint8Array): string => createHash("sha1").update(data).digest("hex");
