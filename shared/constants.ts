/** Protocol-wide constants. Timeouts used by a single module live at the top of that module. */

/** The version printed by `shoal --version` and sent in hello messages. */
export const VERSION = "0.1.0";

/** Every shared file is cut into pieces of this many bytes (the last piece may be shorter). */
export const PIECE_SIZE = 512 * 1024;

/** The largest control (JSON) frame a client connection may send. */
export const MAX_CONTROL_FRAME = 1024 * 1024;

/**
 * The largest file a peer shares: its `share_file` request carries 40 hex
 * digits per piece and must fit one control frame, with room for the rest
 * (12 GiB in 512 KiB pieces).
 */
export const MAX_SHARE_SIZE = Math.floor((MAX_CONTROL_FRAME - 64 * 1024) / 40) * PIECE_SIZE;

/** The largest frame on the authenticated tracker link (snapshots travel in parts below this). */
export const MAX_LINK_FRAME = 64 * 1024 * 1024;

/** The largest frame carrying piece data: a piece plus its header. */
export const MAX_DATA_FRAME = PIECE_SIZE + 64;

/** A peer's keepalive interval with the trackers unless `--keepalive` says otherwise (ms). */
export const DEFAULT_KEEPALIVE_MS = 1000;
/** Keepalive intervals a peer may use (ms); a session silent for three is offline. */
export const MIN_KEEPALIVE_MS = 100;
export const MAX_KEEPALIVE_MS = 60_000;

/** How long a peer identity certificate (issued at login and by `renew_cert`) is valid (ms). */
export const IDENTITY_TTL_MS = 3600_000;
/** A peer renews its identity certificate once this share of its lifetime has passed. */
export const IDENTITY_RENEW_AT = 2 / 3;
