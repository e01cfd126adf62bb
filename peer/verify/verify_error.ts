/** The error of a file hash that failed, was cancelled or was stopped with the peer. */

/** A whole-file or prefix hash did not give a result; the message says why. */
export class VerifyError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "VerifyError";
  }
}
