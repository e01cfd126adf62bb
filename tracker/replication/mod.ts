/**
 * tracker/replication: the pair of trackers. Which one is primary (roles,
 * epochs), the authenticated link between them, catch-up of a secondary from
 * the log or a snapshot, live replication of every write, and the merge of
 * both logs after a partition heals. Decisions are pure functions
 * (`roles.ts`, `catch_up.ts`, `link_chunks.ts`); links, store and timers are
 * at the edge (`node.ts`, `replica.ts`, `link_manager.ts`).
 *
 * - `node.ts`: one tracker of the pair; `replica.ts`: its copy of the log
 * - `link.ts`, `link_manager.ts`, `cluster_key.ts`: the link and its handshake
 * - `link_messages.ts`, `wire_checks.ts`: the link protocol and its decoder
 * - `link_send.ts`, `link_chunks.ts`: batches and fragments within frame limits
 * - `catch_up.ts`, `catch_up_serve.ts`: catch-up, pure and at the edge
 * - `merge_flow.ts`, `merge_tail.ts`, `merge_wire.ts`: the partition merge
 *
 * May import: `shared/`, `tracker/state/`, `tracker/store/`.
 *
 * @module
 */
