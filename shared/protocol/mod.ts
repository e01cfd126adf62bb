/**
 * shared/protocol: the typed messages of the two protocols peers speak, one
 * module each that both sides import, each with one decoder that turns bad
 * input into {@linkcode BadMessage}. (The trackers' link protocol is in
 * tracker/replication/link_messages.ts: only trackers speak it.)
 *
 * - `client.ts`: client ↔ tracker; `client_answers.ts`: the answers a peer reads
 * - `transfer.ts`: peer ↔ peer (pieces)
 * - `bad_message.ts`: the error and the notice sent before hanging up
 *
 * May import: `shared/`.
 *
 * @module
 */
