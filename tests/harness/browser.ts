/**
 * Chromium for the browser tests: Debian's `chromium` (installed by the
 * Makefile and .ci/run with apt), driven by playwright-core. Where there is
 * no Chromium the tests skip with one clear line.
 */
import { type Browser, chromium } from "playwright-core";

/** Where Debian (and others) put a Chromium; `SHOAL_CHROMIUM` first. */
const CANDIDATES = [
  Deno.env.get("SHOAL_CHROMIUM"),
  "/usr/bin/chromium",
  "/usr/bin/chromium-headless-shell",
  "/usr/lib/chromium/chromium-headless-shell",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome",
];

/** The first Chromium executable found, or null. */
export function findChromium(): string | null {
  for (const p of CANDIDATES) {
    if (!p) continue;
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch { /* not there */ }
  }
  return null;
}

/** Why the browser tests skip here, or null when they can run. */
export function browserSkipReason(): string | null {
  return findChromium() === null
    ? "no Chromium found (apt-get install chromium, or set SHOAL_CHROMIUM): the browser tests skip"
    : null;
}

/** Launches headless Chromium (no sandbox: the tests run as root in CI). */
export async function launchChromium(): Promise<Browser> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error(browserSkipReason()!);
  return await chromium.launch({
    executablePath,
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
    timeout: 60_000,
  });
}
