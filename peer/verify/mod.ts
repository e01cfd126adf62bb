/**
 * peer/verify: the peer's file hashes, apart from the piece server and the
 * transfers. The piece list and whole-file SHA-1 of a file to share, and the
 * whole-file SHA-1 of each running download, which follows the download's
 * verified prefix and drops the pages behind it. (The SHA-1 of one received
 * piece is shared/piece_hash.ts, run by the transfer workers.)
 *
 * - `verifier.ts`: the main-thread side, over its own MessagePort
 * - `verify_host.ts`, `verify_protocol.ts`: the side that hashes, and the
 *   messages between them; it runs on the first piece-server worker's
 *   thread, which saves an isolate (about 7.5 MiB)
 * - `file_hashes.ts`: hashing a file to share
 * - `prefix_hash.ts`: the whole-file SHA-1 that follows a download
 * - `page_cache.ts`: drop-behind of hashed pages
 *
 * May import: `shared/`.
 *
 * @module
 */
