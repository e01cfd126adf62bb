/**
 * The page's script (inline, no build step). It builds every element with
 * textContent, never innerHTML: names come from other users. It calls the
 * JSON API with POST and follows `/api/events`; the secret travels in the
 * cookie the page got when it was opened.
 */
export const PAGE_SCRIPT = String.raw`
"use strict";
const $ = (id) => document.getElementById(id);
let me = null, groups = [], selected = null, shares = [];

function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "onclick") e.addEventListener("click", v);
    else if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
}

function say(text, error) {
  const m = $("message");
  m.textContent = text || "";
  m.className = error ? "error" : "";
}

async function api(cmd, body) {
  let res;
  try {
    res = await fetch("/api/" + cmd, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body || {}),
    });
  } catch (err) {
    say("error: the peer does not answer (" + err.message + ")", true);
    return null;
  }
  const data = await res.json().catch(() => ({ ok: false, error: "malformed answer" }));
  if (!data.ok) {
    say("error: " + data.error, true);
    return null;
  }
  if (data.message) say(data.message, false);
  return data;
}

function size(n) {
  if (n === null || n === undefined) return "?";
  if (n < 1024) return n + " B";
  const u = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024, i = 0;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return v.toFixed(1) + " " + u[i];
}

function eta(s) {
  if (s === null) return "-";
  if (s < 60) return Math.ceil(s) + "s";
  if (s < 3600) return Math.floor(s / 60) + "m" + String(Math.ceil(s % 60)).padStart(2, "0") + "s";
  return Math.floor(s / 3600) + "h" + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + "m";
}

const STATES = { D: "downloading", S: "stalled", V: "verifying", P: "paused", C: "complete", F: "failed", W: "waiting for login" };

function showState(st) {
  const changed = st.user !== me;
  me = st.user;
  shares = st.shares || [];
  $("addr").textContent = "peer " + st.addr;
  $("who").textContent = me ? "logged in as " + me : "not logged in";
  $("logout").classList.toggle("hidden", !me);
  $("account").classList.toggle("hidden", !!me);
  $("groups").classList.toggle("hidden", !me);
  $("files").classList.toggle("hidden", !me || !selected);
  $("downloads").classList.toggle("hidden", (st.downloads || []).length === 0 && !me);
  showDownloads(st.downloads || []);
  if (changed) {
    selected = null;
    if (me) refreshGroups();
  }
}

function showDownloads(list) {
  const box = $("download-list");
  box.replaceChildren();
  if (list.length === 0) box.append(h("p", { class: "muted" }, "no downloads"));
  for (const d of list) {
    const id = d.group + "/" + d.name;
    const stats = d.state === "D"
      ? (d.rate / 1e6).toFixed(1) + " MB/s · ETA " + eta(d.eta) + " · " + d.peers + " peer" + (d.peers === 1 ? "" : "s")
      : d.state === "C" ? "saved as " + d.path
      : d.reason || "";
    const map = h("div", { class: "map", title: "pieces" });
    for (const c of d.map) {
      // Any verified piece in a cell shows; a full cell is solid.
      map.append(h("span", { style: c === 0 ? "" : "background: rgba(31,111,235," + (0.3 + 0.7 * c).toFixed(2) + ")" }));
    }
    const buttons = [];
    if (d.state === "D" || d.state === "S") buttons.push(h("button", { onclick: () => control("pause_download", d) }, "Pause"));
    if (d.state === "P") buttons.push(h("button", { onclick: () => control("resume_download", d) }, "Resume"));
    if (d.state === "D" || d.state === "S" || d.state === "P") buttons.push(h("button", { onclick: () => control("cancel_download", d) }, "Cancel"));
    box.append(h("div", { class: "dl " + d.state, "data-download": id },
      h("div", { class: "head" },
        h("span", { class: "name" }, d.name), h("span", { class: "muted" }, "[" + d.group + "]"),
        h("span", { class: "state" }, STATES[d.state] || d.state),
        h("span", { class: "percent" }, d.percent.toFixed(1) + "%"),
        h("span", { class: "stats" }, stats), ...buttons),
      h("div", { class: "bar" }, h("div", { style: "width:" + d.percent + "%" })),
      map,
      h("div", { class: "mono muted" }, "sha1 " + d.sha1)));
  }
}

function control(cmd, d) {
  api(cmd, { group_id: d.group, file_name: d.name });
}

async function refreshGroups() {
  const d = await api("list_groups");
  if (!d) return;
  groups = d.groups;
  const rows = $("group-rows");
  rows.replaceChildren();
  const reqBox = $("requests");
  reqBox.replaceChildren();
  for (const g of groups) {
    const you = g.member ? (g.owner === me ? "owner" : "member") : g.pending ? "pending" : "-";
    const act = g.member
      ? [h("button", { onclick: () => openGroup(g.group) }, "Files"),
        h("button", { onclick: async () => { if (await api("leave_group", { group_id: g.group })) { if (selected === g.group) selected = null; refreshGroups(); } } }, "Leave")]
      : g.pending ? [] : [h("button", { onclick: async () => { if (await api("join_group", { group_id: g.group })) refreshGroups(); } }, "Join")];
    rows.append(h("tr", { "data-group": g.group }, h("td", {}, g.group), h("td", {}, g.owner),
      h("td", {}, g.members === null ? "?" : g.members), h("td", {}, you), h("td", {}, ...act)));
    if (g.owner === me) showRequests(g.group, reqBox);
  }
  if (selected) openGroup(selected);
}

async function showRequests(group, box) {
  const res = await fetch("/api/list_requests", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ group_id: group }) });
  const d = await res.json();
  if (!d.ok || d.requests.length === 0) return;
  for (const u of d.requests) {
    box.append(h("div", { "data-request": group + "/" + u }, u + " asks to join " + group + " ",
      h("button", { class: "primary", onclick: async () => { if (await api("accept_request", { group_id: group, user_id: u })) refreshGroups(); } }, "Accept"),
      h("button", { onclick: async () => { if (await api("reject_request", { group_id: group, user_id: u })) refreshGroups(); } }, "Reject")));
  }
}

async function openGroup(group) {
  selected = group;
  $("files").classList.remove("hidden");
  $("files-group").textContent = group;
  const res = await fetch("/api/list_files", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ group_id: group }) });
  const d = await res.json();
  if (!d.ok) { say("error: " + d.error, true); return; }
  const rows = $("file-rows");
  rows.replaceChildren();
  if (d.files.length === 0) rows.append(h("tr", {}, h("td", { colspan: "5", class: "muted" }, "no files in " + group)));
  for (const f of d.files) {
    const mine = shares.some((s) => s.group === group && s.name === f.name);
    rows.append(h("tr", { "data-file": f.name }, h("td", {}, f.name), h("td", {}, size(f.size)),
      h("td", { class: "sha1" }, f.sha1), h("td", {}, f.seeders === null ? "?" : f.seeders),
      h("td", {},
        h("button", { class: "primary", onclick: () => api("download_file", { group_id: group, file_name: f.name, destination_dir: $("dest").value || "." }) }, "Download"),
        mine ? h("button", { onclick: async () => { if (await api("stop_share", { group_id: group, file_name: f.name })) openGroup(group); } }, "Stop sharing") : null)));
  }
}

$("login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  api("login", { user_id: $("user").value, passwd: $("password").value }).then(() => $("password").value = "");
});
$("create-user").addEventListener("click", () => api("create_user", { user_id: $("user").value, passwd: $("password").value }));
$("logout").addEventListener("click", () => api("logout"));
$("create-group-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (await api("create_group", { group_id: $("new-group").value })) { $("new-group").value = ""; refreshGroups(); }
});
$("share-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (await api("upload_file", { file_path: $("share-path").value, group_id: selected })) openGroup(selected);
});
$("dest-form").addEventListener("submit", (e) => e.preventDefault());

const events = new EventSource("/api/events");
events.addEventListener("state", (e) => showState(JSON.parse(e.data)));
events.addEventListener("notice", (e) => say(JSON.parse(e.data).line, false));
events.onerror = () => say("error: lost the connection to the peer; retrying", true);
setInterval(() => { if (me) refreshGroups(); }, 5000);
`;
