/**
 * The peer's identity: one Ed25519 key pair per process, and the short-lived
 * certificate the trackers issue for it at login (naming the user and this
 * peer's address, signed by the cluster CA). The piece server shows it to
 * downloaders, the transfer workers show it to serving peers (mutual TLS),
 * and lookups name its key so that grants are issued to it.
 *
 * The certificate is renewed on the tracker connection (`renew_cert`) once
 * `IDENTITY_RENEW_AT` (shared/constants.ts) of its lifetime has passed; a failed renewal is tried
 * again every {@link RENEW_RETRY_MS} until the certificate runs out. The
 * private key never leaves the process.
 */
import type { TlsDialOptions } from "../../shared/conn.ts";
import { IDENTITY_RENEW_AT } from "../../shared/constants.ts";
import { describeError } from "../../shared/errors.ts";
import { log } from "../../shared/log.ts";
import { decodeCertAnswer } from "../../shared/protocol/client_answers.ts";
import { certInfo, keyIdOf, signedBy } from "../../shared/tls/cert_info.ts";
import { newKeyPair } from "../../shared/tls/keys.ts";
import type { TrackerClient } from "./tracker_client.ts";

const logger = log("peer", "identity");

/** How long a peer waits to try a failed renewal again. */
export const RENEW_RETRY_MS = 10_000;
/** The shortest wait before a renewal, whatever the certificate's dates say (no busy loop). */
const MIN_RENEW_DELAY_MS = 1000;

/** The trackers' certificate is not one this peer can use. */
export class IdentityError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "IdentityError";
  }
}

/** The CA, certificate and key a TLS connection of this peer shows (dialing or serving). */
export type IdentityTls = Required<TlsDialOptions>;

/** Options for {@linkcode PeerIdentity.create}. */
export interface PeerIdentityOptions {
  /** The cluster CA's certificate (PEM). */
  ca: string;
  /** Where renewals go (the session's token is its own). */
  client: Pick<TrackerClient, "request">;
}

/** This process's key pair and the certificate the trackers issued for it, if any. */
export class PeerIdentity {
  /** The cluster CA's certificate (PEM). */
  readonly ca: string;
  /** The public key as base64 SPKI: what login and `renew_cert` send. */
  readonly pubkey: string;
  /** Base64 SHA-256 of the public key: the identity lookups name and grants carry. */
  readonly keyId: string;
  #keyPem: string;
  #client: Pick<TrackerClient, "request">;
  #cert: string | null = null;
  #notAfter = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Bumped by every change: a renewal that an older state started is not taken. */
  #generation = 0;
  #listeners: ((tls: IdentityTls | null) => void)[] = [];

  private constructor(
    opts: PeerIdentityOptions,
    keys: { pubkey: string; keyId: string; keyPem: string },
  ) {
    this.ca = opts.ca;
    this.#client = opts.client;
    this.pubkey = keys.pubkey;
    this.keyId = keys.keyId;
    this.#keyPem = keys.keyPem;
  }

  /** Makes the process's key pair; no certificate yet. */
  static async create(opts: PeerIdentityOptions): Promise<PeerIdentity> {
    const kp = await newKeyPair();
    return new PeerIdentity(opts, {
      pubkey: kp.spki,
      keyId: await keyIdOf(kp.spki),
      keyPem: kp.keyPem,
    });
  }

  /** The current certificate (PEM), or null. */
  get cert(): string | null {
    return this.#cert;
  }

  /** What a TLS connection shows: the CA, the certificate and its key; null without a certificate. */
  get tls(): IdentityTls | null {
    return this.#cert === null ? null : { caCerts: [this.ca], cert: this.#cert, key: this.#keyPem };
  }

  /** Calls `fn` with every change of certificate (null: none any more). */
  onChange(fn: (tls: IdentityTls | null) => void): void {
    this.#listeners.push(fn);
  }

  /**
   * Takes a certificate from the trackers (login or renewal): it must be
   * signed by the CA, valid now and for this key, else {@linkcode IdentityError}.
   */
  async take(cert: string, now = Date.now()): Promise<void> {
    const generation = ++this.#generation;
    let info;
    try {
      info = await certInfo(cert);
    } catch (err) {
      throw new IdentityError(`the trackers sent no certificate: ${describeError(err)}`, {
        cause: err,
      });
    }
    if (info.keyId !== this.keyId) {
      throw new IdentityError("the trackers' certificate is for another key");
    }
    if (!(await signedBy(cert, this.ca, new Date(now)))) {
      throw new IdentityError(
        "the trackers' certificate is not of this cluster's CA or not valid now",
      );
    }
    if (generation !== this.#generation) return;
    this.#cert = cert;
    this.#notAfter = info.notAfter.getTime();
    const from = info.notBefore.getTime();
    this.#schedule(from + (this.#notAfter - from) * IDENTITY_RENEW_AT - now);
    this.#emit();
  }

  /** Asks the trackers for a fresh certificate for the session's user (at resume, or when due). */
  async renew(): Promise<void> {
    const generation = this.#generation;
    const res = await this.#client.request("renew_cert", { pubkey: this.pubkey });
    if (!res.ok) throw new IdentityError(`cannot renew the identity certificate: ${res.error}`);
    if (generation !== this.#generation) return;
    await this.take(decodeCertAnswer(res.data).cert);
  }

  /** Forgets the certificate (logout, or the session is gone); the key pair stays. */
  drop(): void {
    this.#generation++;
    clearTimeout(this.#timer);
    if (this.#cert === null) return;
    this.#cert = null;
    this.#emit();
  }

  /** Stops renewing (the peer stops). */
  close(): void {
    this.#generation++;
    clearTimeout(this.#timer);
  }

  #schedule(delayMs: number): void {
    clearTimeout(this.#timer);
    const generation = this.#generation;
    this.#timer = setTimeout(() => {
      if (generation !== this.#generation) return;
      this.renew().catch((err) => {
        if (generation !== this.#generation) return;
        logger.warn("{error}; trying again", { error: describeError(err) });
        // Tried until the certificate runs out; then this peer has no identity until it logs in.
        const left = this.#notAfter - Date.now();
        if (left > 0) this.#schedule(Math.min(RENEW_RETRY_MS, left));
        else this.drop();
      });
    }, Math.max(MIN_RENEW_DELAY_MS, delayMs));
    Deno.unrefTimer(this.#timer);
  }

  #emit(): void {
    const tls = this.tls;
    for (const fn of this.#listeners) fn(tls);
  }
}
