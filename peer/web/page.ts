/**
 * The web UI: one page, plain HTML, CSS and a script of its own (no build
 * step, nothing fetched from elsewhere). It drives the JSON API and follows
 * the peer's events; the script is in page_script.ts.
 */
import { PAGE_SCRIPT } from "./page_script.ts";

const STYLE = `
:root { --fg:#1d2430; --muted:#5c6675; --line:#d9dee6; --accent:#1f6feb; --ok:#1a7f37; --bad:#cf222e; --bg:#f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 1rem; align-items: center; padding: .6rem 1.2rem; background: #fff; border-bottom: 1px solid var(--line); }
header h1 { font-size: 1.1rem; margin: 0; }
header .who { margin-left: auto; color: var(--muted); }
main { display: grid; grid-template-columns: minmax(300px, 1fr) minmax(380px, 2fr); gap: 1rem; padding: 1rem 1.2rem; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .8rem 1rem; }
section h2 { font-size: 1rem; margin: 0 0 .6rem; }
.wide { grid-column: 1 / -1; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: .25rem .4rem; border-bottom: 1px solid var(--line); vertical-align: middle; }
th { color: var(--muted); font-weight: 600; font-size: .85rem; }
td.sha1, .mono { font-family: ui-monospace, monospace; font-size: .8rem; word-break: break-all; }
input { font: inherit; padding: .3rem .45rem; border: 1px solid var(--line); border-radius: 4px; }
button { font: inherit; padding: .25rem .7rem; border: 1px solid var(--line); border-radius: 4px; background: #fff; cursor: pointer; }
button.primary { background: var(--accent); color: #fff; border-color: var(--accent); }
button:hover { filter: brightness(.95); }
form { display: flex; gap: .4rem; flex-wrap: wrap; margin: .4rem 0; }
#message { min-height: 1.4em; padding: .3rem 1.2rem; color: var(--muted); }
#message.error { color: var(--bad); }
.dl { border-bottom: 1px solid var(--line); padding: .5rem 0; }
.dl .head { display: flex; gap: .6rem; align-items: baseline; flex-wrap: wrap; }
.dl .name { font-weight: 600; }
.dl .stats { color: var(--muted); }
.bar { height: 10px; background: var(--line); border-radius: 5px; overflow: hidden; margin: .3rem 0; }
.bar > div { height: 100%; background: var(--accent); transition: width .4s; }
.dl.C .bar > div { background: var(--ok); }
.dl.F .bar > div { background: var(--bad); }
.map { display: flex; height: 8px; gap: 1px; }
.map span { flex: 1; background: var(--line); }
.state { font-size: .8rem; padding: 0 .4rem; border-radius: 8px; background: var(--line); }
.hidden { display: none !important; }
.muted { color: var(--muted); }
`;

/** The page. */
export const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>shoal</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>shoal</h1><span class="muted" id="addr"></span>
<span class="who" id="who">not logged in</span>
<button id="logout" class="hidden">Log out</button></header>
<div id="message" role="status"></div>
<main>
<section id="account">
<h2>Account</h2>
<form id="login-form">
<input id="user" placeholder="user" autocomplete="username" required>
<input id="password" type="password" placeholder="password" autocomplete="current-password" required>
<button class="primary" id="login">Log in</button>
<button type="button" id="create-user">Create account</button>
</form>
</section>
<section id="groups" class="hidden">
<h2>Groups</h2>
<form id="create-group-form"><input id="new-group" placeholder="new group" required>
<button class="primary">Create group</button></form>
<table><thead><tr><th>Group</th><th>Owner</th><th>Members</th><th>You</th><th></th></tr></thead>
<tbody id="group-rows"></tbody></table>
<div id="requests"></div>
</section>
<section id="files" class="hidden">
<h2>Files of <span id="files-group"></span></h2>
<form id="share-form"><input id="share-path" placeholder="path of a file on this machine" size="40" required>
<button class="primary">Share</button></form>
<form id="dest-form"><label class="muted">Download into <input id="dest" value="." size="30"></label></form>
<table><thead><tr><th>Name</th><th>Size</th><th>SHA-1</th><th>Seeders</th><th></th></tr></thead>
<tbody id="file-rows"></tbody></table>
</section>
<section id="downloads" class="wide hidden">
<h2>Downloads</h2>
<div id="download-list"><p class="muted">no downloads</p></div>
</section>
</main>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
