/**
 * The one import of `@peculiar/x509` (certificates over WebCrypto), set up
 * for this runtime: it needs the `reflect-metadata` polyfill and the
 * platform's `crypto`. Everything else imports x509 from here.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(crypto);

export { x509 };
