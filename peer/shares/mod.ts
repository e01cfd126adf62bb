/**
 * peer/shares: the peer's file side as the shell sees it. Sharing a file
 * (hash it, record it, offer it at the trackers, serve it), withdrawing it,
 * re-offering after a restart or a tracker failover, and handing downloads to
 * peer/download. One user's files at a time: the logged-in one's.
 *
 * - `file_service.ts`: the service the shell's file commands call
 * - `upload_file.ts`: the checks before a file is shared
 *
 * May import: `shared/`, `peer/download/`, `peer/serve/`, `peer/store/`,
 * `peer/tracker_client/`, `peer/verify/`.
 *
 * @module
 */
