/**
 * The web UI in a real browser (Debian's Chromium, driven by playwright-core)
 * on two real peers' pages: two accounts, a group, a request accepted, a file
 * shared and downloaded with its progress followed to 100% and its SHA-1
 * checked; another download paused and cancelled; a request from another
 * origin refused. It also takes the screenshot in docs/.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { exists, sha1OfFile, writeRandomFile } from "./harness/files.ts";
import { browserSkipReason, launchChromium } from "./harness/browser.ts";
import { Swarm } from "./harness/swarm.ts";
import { delay, waitFor } from "./harness/wait.ts";
import { WebClient } from "./harness/web_client.ts";

const MiB = 1024 * 1024;
const SKIP = browserSkipReason();
if (SKIP) console.error(SKIP);
/** Where the screenshot goes when SHOAL_SCREENSHOT is set (`make screenshot`). */
const SCREENSHOT = Deno.env.get("SHOAL_SCREENSHOT");

/** Creates the account `user` on the page and logs it in. */
async function signUp(page: Page, user: string): Promise<void> {
  await page.fill("#user", user);
  await page.fill("#password", `pw-${user}`);
  await page.click("#create-user");
  await page.waitForSelector(`#message:text-is("created user ${user}")`);
  await page.click("#login");
  await page.waitForSelector(`#who:text-is("logged in as ${user}")`);
}

Deno.test({
  name:
    "two peers' pages in Chromium: accounts, a group, a share, a download to 100% with its SHA-1, pause and cancel",
  ignore: SKIP !== null,
  fn: async () => {
    await Swarm.run(async (s) => {
      const alicePeer = await s.start("alice");
      const bobPeer = await s.start("bob");
      const alice = await WebClient.of(alicePeer);
      const bob = await WebClient.of(bobPeer);
      const src = await s.mkdir("src");
      const dest = await s.mkdir("dest");
      await writeRandomFile(`${src}/report.bin`, 48 * MiB + 5);
      await writeRandomFile(`${src}/big.bin`, 256 * MiB);
      const sha1 = await sha1OfFile(`${src}/report.bin`);
      const browser = await launchChromium();
      try {
        const a = await (await browser.newContext()).newPage();
        const b = await (await browser.newContext({ viewport: { width: 1200, height: 800 } }))
          .newPage();
        // The printed URL sets the cookie and leaves the secret out of the address bar.
        await a.goto(alice.url);
        assert.equal(a.url(), `${alice.origin}/`);
        await b.goto(bob.url);

        await signUp(a, "alice");
        await a.fill("#new-group", "team");
        await a.click("#create-group-form button");
        await a.waitForSelector('tr[data-group="team"] >> text=owner');

        await signUp(b, "bob");
        await b.click('tr[data-group="team"] >> button:text-is("Join")');
        await b.waitForSelector('tr[data-group="team"] >> text=pending');
        // The owner's page lists the request (groups refresh every 5 s) and accepts it.
        await a.click('[data-request="team/bob"] >> button:text-is("Accept")', { timeout: 15_000 });
        await a.waitForSelector('#message:text-is("accepted bob into team")');

        await a.click('tr[data-group="team"] >> button:text-is("Files")');
        await a.fill("#share-path", `${src}/report.bin`);
        await a.click("#share-form button");
        await a.waitForSelector('tr[data-file="report.bin"]');
        await a.fill("#share-path", `${src}/big.bin`);
        await a.click("#share-form button");
        await a.waitForSelector('tr[data-file="big.bin"] >> button:text-is("Stop sharing")');

        await b.click('tr[data-group="team"] >> button:text-is("Files")', { timeout: 15_000 });
        const shown = await b.textContent('tr[data-file="report.bin"] td.sha1');
        assert.equal(shown, sha1);
        await b.fill("#dest", dest);
        await b.click('tr[data-file="report.bin"] >> button:text-is("Download")');
        const row = '[data-download="team/report.bin"]';
        await b.waitForSelector(`${row}.C`, { timeout: 60_000 });
        assert.equal(await b.textContent(`${row} .percent`), "100.0%");
        assert.equal(await b.textContent(`${row} .mono`), `sha1 ${sha1}`);
        assert.match(
          (await b.textContent(`${row} .stats`)) ?? "",
          new RegExp(`saved as ${dest}/report.bin`),
        );
        assert.equal(await sha1OfFile(`${dest}/report.bin`), sha1);

        // The big one: its only seeder is stopped and let run for a moment, so that it is caught partway.
        alicePeer.child.kill("SIGSTOP");
        try {
          await b.click('tr[data-file="big.bin"] >> button:text-is("Download")');
          const big = '[data-download="team/big.bin"]';
          await b.waitForSelector(big);
          alicePeer.child.kill("SIGCONT");
          await delay(300);
          alicePeer.child.kill("SIGSTOP");
          const pct = await waitFor(async () => {
            const t = (await b.textContent(`${big} .percent`)) ?? "0";
            const p = parseFloat(t);
            return p > 0 ? p : null;
          }, { what: "the big download to show progress", timeoutMs: 10_000 });
          assert.ok(pct < 100, `big.bin is caught partway (${pct}%)`);
          // Its piece map shows the verified pieces: some cells are coloured.
          const cells = await b.$$eval(
            `${big} .map span`,
            (s) => s.filter((e) => e.getAttribute("style")).length,
          );
          assert.ok(cells > 0, "the piece map shows the verified pieces");
          if (SCREENSHOT) await b.screenshot({ path: SCREENSHOT, fullPage: true });
          await b.click(`${big} >> button:text-is("Pause")`);
          await b.waitForSelector(`${big}.P`);
          await b.click(`${big} >> button:text-is("Cancel")`);
          await b.waitForSelector(big, { state: "detached" });
          assert.equal(await exists(`${dest}/big.bin.part`), false);
        } finally {
          alicePeer.child.kill("SIGCONT");
        }

        // A page of another origin cannot drive the peer, even from the same browser.
        const other = await (await browser.newContext()).newPage();
        await other.goto(`${alice.origin}/`);
        const refused = await other.evaluate(async (origin) => {
          try {
            const r = await fetch(`${origin}/api/logout`, { method: "POST", body: "{}" });
            return r.status;
          } catch {
            return "blocked";
          }
        }, bob.origin);
        assert.ok(refused === 403 || refused === "blocked", `another origin got ${refused}`);
        assert.match(await bobPeer.ok("whoami"), /^logged in as bob/);
      } finally {
        await browser.close();
      }
    });
  },
});
