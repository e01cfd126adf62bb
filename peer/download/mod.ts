/**
 * peer/download: fetching a file from the peers that have it. The download
 * session is a pure state machine (events in, actions out, the time comes in
 * with each event); its driver carries the actions out on the transfer
 * workers, peer.db, the trackers and the whole-file hash. See
 * docs/ARCHITECTURE.md for the path of one download.
 *
 * - `session.ts`, `session_events.ts`: the session and what goes in and out
 * - `sources.ts`, `request_planner.ts`, `piece_picker.ts`, `rate_meter.ts`:
 *   the session's parts (peers and their pieces, what to ask whom, rarest first)
 * - `driver.ts`: runs one session against the real world
 * - `worker_pool.ts`, `transfer_worker.ts`, `transfer_protocol.ts`: the
 *   transfer workers that fetch, hash and write pieces
 * - `download_manager.ts`, `new_download.ts`, `resume_check.ts`,
 *   `download_records.ts`, `download_view.ts`: a user's downloads (start,
 *   pause, resume, cancel, list, wait)
 * - `tracker_answers.ts`: lookups and reports at the trackers
 *
 * May import: `shared/`, `peer/store/`, `peer/serve/`, `peer/verify/`,
 * `peer/tracker_client/`.
 *
 * @module
 */
