/**
 * tracker/store: one tracker's durable storage (node:sqlite): the op log,
 * the latest snapshot, and the few values a restart needs (epoch, role).
 *
 * - `store.ts`: the store
 *
 * May import: `shared/`, `tracker/state/`.
 *
 * @module
 */
