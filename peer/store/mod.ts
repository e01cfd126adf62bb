/**
 * peer/store: what a peer keeps on disk. Its shares and downloads per user,
 * with every verified piece for resume (`peer.db`, node:sqlite), and the
 * login session (`session.json`). No network, no workers.
 *
 * - `peer_db.ts`: shares, downloads, verified pieces
 * - `peer_db_schema.ts`: the tables and the migration of older databases
 * - `session_store.ts`: the stored login session
 *
 * May import: `shared/`.
 *
 * @module
 */
