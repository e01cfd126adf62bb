/**
 * The download's tunables under their old address, for the end-to-end tests
 * that import them from here; the session ({@link ./session.ts}) and its
 * driver ({@link ./driver.ts}) are the download.
 */
export { REFRESH_INTERVAL_MS } from "./session.ts";
export { MAX_STRIKES } from "./sources.ts";
