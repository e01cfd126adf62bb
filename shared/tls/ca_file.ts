/**
 * The CA certificate file, `ca.pem`, kept beside tracker_info.txt: each
 * tracker writes it there when it is missing, and a peer reads it from there
 * unless told `--ca <file>`.
 */
import { ConfigError } from "../errors.ts";

/** The CA certificate's file name, beside tracker_info.txt. */
export const CA_FILE = "ca.pem";
/** How often a `ca.pem` found empty (the other tracker is writing it) is read again. */
const EMPTY_RETRIES = 20;
const EMPTY_RETRY_MS = 10;

/** Where the CA certificate sits for a tracker_info file: the same folder, `ca.pem`. */
export function caPathFor(trackerInfoPath: string): string {
  const slash = trackerInfoPath.lastIndexOf("/");
  return slash < 0 ? CA_FILE : `${trackerInfoPath.slice(0, slash + 1)}${CA_FILE}`;
}

/** Reads the CA certificate (PEM); throws {@linkcode ConfigError} saying where to get it. */
export async function readCa(path: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new ConfigError(
      `no CA certificate at ${path}: copy ca.pem from a tracker's tracker_info folder, or pass --ca <file>`,
      { cause: err },
    );
  }
  if (!text.includes("-----BEGIN CERTIFICATE-----")) {
    throw new ConfigError(`${path} holds no PEM certificate`);
  }
  return text;
}

/**
 * Writes `caPem` to `path` when no file is there (mode 0644). A file already
 * there must hold the same certificate: one of another cluster key is refused.
 */
export async function writeCa(path: string, caPem: string): Promise<void> {
  try {
    await Deno.writeTextFile(path, caPem, { createNew: true, mode: 0o644 });
    return;
  } catch (err) {
    if (!(err instanceof Deno.errors.AlreadyExists)) {
      throw new ConfigError(`Cannot write ${path}: ${(err as Error).message}`, { cause: err });
    }
  }
  const there = await readExisting(path);
  if (there.trim() !== caPem.trim()) {
    throw new ConfigError(`${path} is the CA of another cluster key`);
  }
}

/** Reads a file another tracker may be writing at this moment: an empty one is read again. */
async function readExisting(path: string): Promise<string> {
  for (let i = 0;; i++) {
    const text = await Deno.readTextFile(path);
    if (text !== "" || i >= EMPTY_RETRIES) return text;
    await new Promise((r) => setTimeout(r, EMPTY_RETRY_MS));
  }
}
