/** An identity key for test clients that log in but never serve or fetch pieces. */
import { keyIdOf } from "../../shared/tls/cert_info.ts";
import { newKeyPair } from "../../shared/tls/keys.ts";

/** A base64 SPKI Ed25519 public key: what `login` wants as `pubkey`. */
export const TEST_PUBKEY: string = (await newKeyPair()).spki;
/** Its id (`keyIdOf`): what `lookup_file` wants as `id`. */
export const TEST_KEY_ID: string = await keyIdOf(TEST_PUBKEY);
