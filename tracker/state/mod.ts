/**
 * tracker/state: the tracker's pure core. Users, sessions, groups, join
 * requests and the file registry as a state machine: commands in, results
 * and replicated ops out. No sockets, clocks, files or randomness: the time
 * and any token or hash come in with the command.
 *
 * - `state.ts`, `records.ts`: the state and its records; `ops.ts`: the ops
 * - `commands.ts`: reads (`query`) and writes (`propose`, then `apply`)
 * - `liveness.ts`: leases of online sessions; `revocations.ts`: revoked grants
 * - `merge.ts`, `merge_check.ts`: merging the logs of a healed partition
 *
 * May import: `shared/`.
 *
 * @module
 */
