/**
 * The scale benchmark's probe: one more logged-in peer, on its own
 * connection, that makes replicated writes one at a time at a steady pace
 * (`report_pieces` of its own group's file, as a downloader's report) and
 * records how long each took.
 */
import { newKeyPair } from "../shared/tls/keys.ts";
import type { FileMeta } from "../shared/protocol/client_answers.ts";
import type { Endpoint } from "../shared/tracker_info.ts";
import { WireClient } from "./_wire_client.ts";

/** The probe's user and group. */
export const PROBE_USER = "probe";
const PROBE_GROUP = "probe-g";

/** The probe peer. */
export class Probe {
  readonly #wire: WireClient;
  readonly #file: Omit<FileMeta, "group">;
  #errors = 0;
  #firstError: string | null = null;

  private constructor(wire: WireClient, file: Omit<FileMeta, "group">) {
    this.#wire = wire;
    this.#file = file;
  }

  /** Logs in as {@linkcode PROBE_USER}, creates its group and shares `file` there. */
  static async start(
    to: Endpoint,
    options: { ca: string; password: string; file: Omit<FileMeta, "group"> },
  ): Promise<Probe> {
    const wire = await WireClient.connect(to, { name: "probe", ca: options.ca });
    try {
      const { spki } = await newKeyPair();
      const data = await wire.call("login", {
        user: PROBE_USER,
        password: options.password,
        addr: "127.0.0.2:9",
        pubkey: spki,
      });
      wire.token = String(data.token);
      await wire.call("create_group", { group: PROBE_GROUP });
      await wire.call("share_file", { group: PROBE_GROUP, ...options.file });
    } catch (err) {
      await wire.close();
      throw err;
    }
    return new Probe(wire, options.file);
  }

  /** Writes that were refused or failed. */
  get errors(): { count: number; first: string | null } {
    return { count: this.#errors, first: this.#firstError };
  }

  /**
   * Makes one write every `everyMs` (or as soon as the last is answered, if
   * later) for `durationMs`; returns each answered write's latency in ms.
   */
  async run(options: { durationMs: number; everyMs: number }): Promise<number[]> {
    const n = Math.ceil(this.#file.size / this.#file.pieceSize);
    const samples: number[] = [];
    const end = performance.now() + options.durationMs;
    let next = performance.now();
    for (let seq = 0; performance.now() < end; seq++) {
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      next += options.everyMs;
      const t0 = performance.now();
      try {
        const res = await this.#wire.request("report_pieces", {
          group: PROBE_GROUP,
          name: this.#file.name,
          pieces: [seq % n],
        });
        if (res.ok) samples.push(performance.now() - t0);
        else {
          this.#errors++;
          this.#firstError ??= res.error;
        }
      } catch (err) {
        this.#errors++;
        this.#firstError ??= (err as Error).message;
        break;
      }
    }
    return samples;
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    await this.#wire.close();
  }
}
