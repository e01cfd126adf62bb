/** The report's "The tracker at scale" section, from the JSON line of `deno task bench:scale`. */
import { readResult } from "./_results.ts";
import { GOAL, type ScaleResult } from "./_scale_result.ts";

const f = (x: number | null | undefined, d = 1) =>
  x === null || x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(d);

/** Reads the last full run (bench/results/tracker_scale.json), or null when there is none. */
export function readScale(): Promise<ScaleResult | null> {
  return readResult<ScaleResult>("tracker_scale.json");
}

/** The section's lines: what was run, the figures, and the goal. */
export function scaleSection(r: ScaleResult | null): string[] {
  if (!r) {
    return ["Not measured: run `deno task bench:scale` (bench/results/tracker_scale.json)."];
  }
  const perConnKiB = r.loggedIn > 0
    ? (1024 * (r.primary.rssMiB - r.primary.rssBeforeMiB)) / r.loggedIn
    : NaN;
  const cmds = Object.entries(r.byCmd).map(([k, v]) => `${k} ${f(v, 0)}`).join(", ");
  return [
    `One run of \`deno task bench:scale\` (${r.mode}) on ${
      r.date.slice(0, 16).replace("T", " ")
    } UTC, ${r.env.cpus} cores, load average ${f(r.env.loadavg, 2)} at the start. ` +
    `${r.peers} peers in ${r.processes} load processes, each logged in on its own TLS ` +
    `connection to the primary and keeping alive as the real peer does (a \`watch\` every ` +
    `${
      r.rates.keepaliveMs / 2
    } ms: the tracker holds each for half the ${r.rates.keepaliveMs} ms ` +
    `interval); ${r.downloaders} of them (${f(100 * r.downloading, 0)}%) download a ` +
    `${r.fileMiB} MiB file in groups of one owner and up to 10 downloaders, each sending ` +
    `\`report_pieces\` (${r.rates.piecesPerReport} pieces) every ${r.rates.reportMs} ms and ` +
    `\`lookup_file\` every ${r.rates.lookupMs} ms. A probe peer makes one replicated write ` +
    `(\`report_pieces\`) at a time meanwhile. Figures over a steady window of ${f(r.seconds)} s ` +
    "after every peer is in; the load processes share the machine with the trackers.",
    "",
    "| peers | downloading | req/s | primary CPU % of a core | primary RSS MiB | secondary CPU % | secondary RSS MiB | write p50 / p99 / max ms | ramp s | goal |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    `| ${r.loggedIn} (${r.online ?? "-"} online) | ${r.downloaders} | ${f(r.reqPerSec, 0)} | ${
      f(r.primary.cpuPercent)
    } | ${f(r.primary.rssMiB, 0)} | ${f(r.secondary.cpuPercent)} | ${f(r.secondary.rssMiB, 0)} | ${
      f(r.write.p50, 2)
    } / ${f(r.write.p99, 2)} / ${f(r.write.max, 2)} | ${f(r.rampSeconds, 0)} | ${goalText(r)} |`,
    "",
    `- Requests/s by command: ${cmds}; ${r.refused} refused.`,
    `- Primary memory: ${f(r.primary.rssBeforeMiB, 0)} MiB before the logins, ` +
    `${f(r.primary.rssMiB, 0)} MiB under load (peak ${f(r.primary.peakRssMiB, 0)}): about ` +
    `${f(perConnKiB, 0)} KiB per logged-in peer.`,
    `- Ramp: ${r.loggedIn} logins in ${f(r.rampSeconds, 0)} s ` +
    `(${f(r.loggedIn / r.rampSeconds, 0)}/s; PBKDF2 ${r.iterations} iterations, one hash at a ` +
    `time); ${r.failedLogins} failed.`,
    `- The downloaders' own reports (many in flight): p50 ${f(r.reports.p50, 2)} ms, ` +
    `p99 ${f(r.reports.p99, 2)} ms (estimated over the load processes).`,
    `- CPU of the load processes ${f(r.loadCpuPercent, 0)}% and of the rest of the machine ` +
    `${f(r.otherCpuPercent, 0)}% of a core in the window.`,
  ];
}

function goalText(r: ScaleResult): string {
  if (r.goal.met) return "met";
  const missed = [
    r.goal.peers ? null : `${GOAL.peers} live peers`,
    r.goal.cpu ? null : `CPU ≤ ${GOAL.cpuPercent}%`,
    r.goal.p99 ? null : `p99 ≤ ${GOAL.writeP99Ms} ms`,
  ].filter((x) => x !== null);
  return `missed (${missed.join(", ")})`;
}
