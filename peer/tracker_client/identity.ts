/**
 * The peer's identity: one Ed25519 key pair per process, and the short-lived
 * certificate the trackers issue for it at login (naming the user and this
 * peer's address, signed by the cluster CA). The piece server shows it to
 * downloaders, the transfer workers show it to serving peers (mutual TLS),
 * and lookups name its key so that grants are issued to it.
 *
 * The certificate is renewed on the tracker connection (`renew_cert`) once
 * `IDENTITY_RENEW_AT` of its lifetime (`IDENTITY_TTL_MS`, shared/constants.ts)
 * has passed; a failed renewal is tried again every {@link RENEW_RETRY_MS}
 * until the certificate runs out. The private key never leaves the process.
 *
 * The certificate is not parsed here: it comes over the TLS-checked tracker
 * connection, and every TLS handshake that shows it checks it again. So the
 * main thread does without @peculiar/x509 (about 20 MiB of heap and code).
 */
import type { TlsDialOptions } from "../../shared/conn.ts";
import { IDENTITY_RENEW_AT, IDENTITY_TTL_MS } from "../../shared/constants.ts";
import { encodeBase64 } from "../../shared/base64.ts";
import { describeError } from "../../shared/errors.ts";
import { log } from "../../shared/log.ts";
import { decodeCertAnswer } from "../../shared/protocol/client_answers.ts";
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
  /** How long the trackers' certificates are valid; default `IDENTITY_TTL_MS`. */
  ttlMs?: number;
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
  #ttlMs: number;
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
    this.#ttlMs = opts.ttlMs ?? IDENTITY_TTL_MS;
    this.pubkey = keys.pubkey;
    this.keyId = keys.keyId;
    this.#keyPem = keys.keyPem;
  }

  /** Makes the process's key pair (Ed25519); no certificate yet. */
  static async create(opts: PeerIdentityOptions): Promise<PeerIdentity> {
    const usages: KeyUsage[] = ["sign", "verify"];
    const pair = await crypto.subtle.generateKey(
      { name: "Ed25519" },
      true,
      usages,
    ) as CryptoKeyPair;
    const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
    const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
    const lines = encodeBase64(pkcs8).match(/.{1,64}/g) ?? [];
    return new PeerIdentity(opts, {
      pubkey: encodeBase64(spki),
      // As shared/tls/cert_info.ts keyIdOf: base64 SHA-256 of the SPKI.
      keyId: encodeBase64(new Uint8Array(await crypto.subtle.digest("SHA-256", spki))),
      keyPem: `-----BEGIN PRIVATE KEY-----\n${lines.join("\n")}\n-----END PRIVATE KEY-----\n`,
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
   * Takes a certificate from the trackers (login or renewal), issued at
   * `now` for the certificates' lifetime, and schedules its renewal.
   */
  take(cert: string, now = Date.now()): Promise<void> {
    if (!cert.includes("-----BEGIN CERTIFICATE-----")) {
      return Promise.reject(new IdentityError("the trackers sent no certificate"));
    }
    this.#generation++;
    this.#cert = cert;
    this.#notAfter = now + this.#ttlMs;
    this.#schedule(this.#ttlMs * IDENTITY_RENEW_AT);
    this.#emit();
    return Promise.resolve();
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
