/**
 * Peer identities: at login (and on `renew_cert`) the tracker that answers
 * issues a short-lived certificate for the public key the peer sent, naming
 * the session's user and the IP of its peer address, signed by the cluster
 * CA. Its serial names the log position it was issued at (shared/tls/serial.ts),
 * so revocations apply to it as to grants.
 */
import { IDENTITY_TTL_MS } from "../../shared/constants.ts";
import { type ClusterCa, issueCert } from "../../shared/tls/ca.ts";
import { importSpki } from "../../shared/tls/keys.ts";
import { positionSerial } from "../../shared/tls/serial.ts";
import { parseEndpoint } from "../../shared/tracker_info.ts";
import type { Request } from "../state/commands.ts";
import type { Result } from "../state/ops.ts";
import type { TrackerState } from "../state/state.ts";
import { CERT_BACKDATE_MS, isIpLiteral } from "./tracker_cert.ts";

/** The refusal of a login or renew_cert without a usable public key. */
export const BAD_PUBKEY = "pubkey must be a base64 Ed25519 public key (SPKI)";
/** Longest `pubkey` accepted (an Ed25519 SPKI is 44 bytes, 60 in base64). */
const MAX_PUBKEY_CHARS = 256;

/** Thrown when a login or renew_cert has no usable public key. */
export class BadPubkey extends Error {
  constructor(options?: ErrorOptions) {
    super(BAD_PUBKEY, options);
    this.name = "BadPubkey";
  }
}

/** Imports a request's `pubkey`; throws {@linkcode BadPubkey} on anything but a base64 Ed25519 SPKI. */
export async function parsePubkey(v: unknown): Promise<CryptoKey> {
  if (typeof v !== "string" || v.length === 0 || v.length > MAX_PUBKEY_CHARS) throw new BadPubkey();
  try {
    return await importSpki(v);
  } catch (err) {
    throw new BadPubkey({ cause: err });
  }
}

/** Adds an identity certificate to login answers and answers renew_cert. */
export class IdentityIssuer {
  readonly #ca: ClusterCa;
  readonly #now: () => number;

  constructor(ca: ClusterCa, now: () => number = Date.now) {
    this.#ca = ca;
    this.#now = now;
  }

  /** The answer with a certificate for the session: `login` gains `cert`, `renew_cert` is `{cert}`. */
  async decorate(state: TrackerState, req: Request, r: Result): Promise<Result> {
    if (!r.ok || (req.cmd !== "login" && req.cmd !== "renew_cert")) return r;
    const token = req.cmd === "login" ? (r.data as { token?: unknown }).token : req.token;
    const session = typeof token === "string" ? state.session(token) : undefined;
    if (!session) return { ok: false, error: "not logged in" };
    let publicKey: CryptoKey;
    try {
      publicKey = await parsePubkey(req.args.pubkey);
    } catch (err) {
      if (err instanceof BadPubkey) return { ok: false, error: err.message };
      throw err;
    }
    // A login's certificate follows from its log entry alone (Ed25519 signs
    // deterministically), so a re-sent login gets the same answer from either
    // tracker; a renewal is issued now.
    const login = req.cmd === "login" && session.idx !== undefined && session.ep !== undefined;
    const who = { publicKey, user: session.user, addr: session.addr };
    const cert = login
      ? await this.issue(who, { ep: session.ep!, idx: session.idx! }, session.at, true)
      : await this.issue(who, { ep: state.epoch, idx: state.index });
    return { ok: true, data: req.cmd === "login" ? { ...r.data, cert } : { cert } };
  }

  /** A certificate for `user` at peer address `addr`, issued at log position `at` and time `now`. */
  async issue(
    who: { publicKey: CryptoKey; user: string; addr: string },
    at: { ep: number; idx: number },
    now = this.#now(),
    fixed = false,
  ): Promise<string> {
    // A fixed serial's tail comes from the key, so one login gives one certificate.
    const tail = fixed
      ? new Uint8Array(
        await crypto.subtle.digest("SHA-256", await crypto.subtle.exportKey("spki", who.publicKey)),
      )
      : undefined;
    return await issueCert(this.#ca, {
      publicKey: who.publicKey,
      name: who.user,
      ips: ipsOf(who.addr),
      notBefore: new Date(now - CERT_BACKDATE_MS),
      notAfter: new Date(now + IDENTITY_TTL_MS),
      serial: positionSerial(at, tail),
    });
  }
}

/** The IP of an `ip:port` address, as a certificate names it (none for a host name). */
function ipsOf(addr: string): string[] {
  const host = parseEndpoint(addr).hostname;
  return isIpLiteral(host) ? [host] : [];
}
