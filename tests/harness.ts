/**
 * Helpers for end-to-end tests: real `shoal` processes on loopback, ports chosen
 * by the OS, temporary directories, and a raw wire client that speaks frames
 * without any of shoal's connection logic.
 */
export { delay, freePort, MAIN, OutputCollector, waitFor, type WaitOptions } from "./_process.ts";
export {
  GRACE_MS,
  HEARTBEAT_MS,
  type PairOptions,
  TrackerPair,
  TrackerProcess,
  type TrackerStatus,
} from "./_tracker_pair.ts";
export { type PeerOptions, type PeerRun, PeerShell, runPeer } from "./_peer_shell.ts";
export { RawClient, type RawEvent } from "./_raw_client.ts";
