/** An identity key for test clients that log in but never serve or fetch pieces. */
import { newKeyPair } from "../../shared/tls/keys.ts";

/** A base64 SPKI Ed25519 public key: what `login` wants as `pubkey`. */
export const TEST_PUBKEY: string = (await newKeyPair()).spki;
