/** What this peer's downloads have fetched, summed over all of them (for /metrics). */
export class DownloadCounters {
  /** Bytes of pieces that passed their SHA-1. */
  bytesReceived = 0;
  piecesVerified = 0;
  /** Pieces whose bytes did not match their SHA-1 (the sending peer is dropped). */
  piecesRejected = 0;
}
