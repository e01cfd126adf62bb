/** The error of a file command (download, pause, resume, cancel, wait, upload, stop_share). */

/** A user-facing failure: its message is shown after `error: `. */
export class FileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FileError";
  }
}
