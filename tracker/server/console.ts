/** The tracker's console on stdin: `status`, `promote`, `quit`. End of input leaves it running. */
import type { Conflict } from "../state/state.ts";

/** What the console reads and drives: the node, the server's connections, who is online. */
export interface ConsoleTarget {
  node: {
    readonly n: number;
    readonly role: string;
    status(): Record<string, unknown>;
    forcePromote(): void;
  };
  server: { readonly connections: number };
  presence: { onlineCount(): number };
}

/** Reads console commands from stdin; calls `quit` on `quit`. */
export async function runConsole(t: ConsoleTarget, quit: () => void): Promise<void> {
  const out = (s: string) => console.log(s);
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  let buf = "";
  try {
    for await (const chunk of lines) {
      buf += chunk;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i).trim();
        buf = buf.slice(i + 1);
        if (line === "") continue;
        if (line === "status") {
          const s = t.node.status();
          const o = s.other as Record<string, unknown>;
          out(
            `tracker ${s.tracker}: ${s.role}, epoch ${s.epoch}, last op ${s.index} ` +
              `(committed ${s.commitIndex})${s.catchingUp ? ", catching up" : ""}`,
          );
          out(
            o.connected
              ? `other tracker: connected, ${o.role}, epoch ${o.epoch}, last op ${o.index}`
              : "other tracker: not connected",
          );
          if (typeof s.appliedAt === "number") {
            out(`last op applied at ${isoMicros(s.appliedAt)}`);
          }
          out(`connections: ${t.server.connections}`);
          out(`peers online: ${t.presence.onlineCount()}`);
          if (typeof s.mergePending === "number" && s.mergePending > 0) {
            out(`writes made alone waiting to be merged: ${s.mergePending}`);
          }
          for (const c of (s.conflicts ?? []) as Conflict[]) out(conflictLine(c));
        } else if (line === "promote") {
          t.node.forcePromote();
          out(`tracker ${t.node.n} is ${t.node.role}`);
        } else if (line === "quit" || line === "exit") {
          quit();
          return;
        } else {
          out(`error: unknown command "${line.slice(0, 40)}" (status, promote, quit)`);
        }
      }
    }
  } catch {
    // stdin closed or unreadable: the tracker keeps running without a console.
  }
}

/** One merge conflict as the console lists it. */
export function conflictLine(c: Conflict): string {
  return `conflict: ${c.summary} from tracker ${c.from} refused: ${c.reason}`;
}

/** A Unix time in ms as ISO 8601 UTC with microseconds, e.g. `2026-11-25T14:25:21.123456Z`. */
export function isoMicros(unixMs: number): string {
  const whole = Math.floor(unixMs);
  const micros = Math.floor((unixMs - whole) * 1000);
  return new Date(whole).toISOString().replace("Z", `${String(micros).padStart(3, "0")}Z`);
}
