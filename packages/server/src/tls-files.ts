import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ServerOptions as HttpsOptions } from 'node:https';
import { createSecureContext, type SecureContextOptions, type Server as TlsServer } from 'node:tls';

/** The TLS files and settings of `keyward server` (docs/operations.md, "TLS"). */
export interface TlsSettings {
  cert: string;
  key: string;
  /** Mutual TLS: the CA whose client certificates authenticate; null for none. */
  clientCa: string | null;
  /** `required`: the handshake fails without a client certificate the client CA verifies (certificate-only mode). */
  clientAuth: 'optional' | 'required';
  minVersion: 'TLSv1.2' | 'TLSv1.3';
}

/**
 * Reads the certificate, key and client CA and checks them before use: the
 * certificate parses, the key is its key, the client CA file holds a CA
 * certificate, and OpenSSL accepts the set. Errors name the file and the
 * problem, never the key's contents.
 */
export async function readSecureContext(settings: TlsSettings): Promise<SecureContextOptions> {
  const cert = await readFile(settings.cert).catch((e: Error) => fileError('--tls-cert', settings.cert, e));
  const key = await readFile(settings.key).catch((e: Error) => fileError('--tls-key', settings.key, e));
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch {
    throw new Error(`--tls-cert: ${settings.cert} is not a PEM certificate`);
  }
  let matches: boolean;
  try {
    matches = certificate.checkPrivateKey(createPrivateKey(key));
  } catch {
    throw new Error(`--tls-key: ${settings.key} is not a PEM private key (or is encrypted)`);
  }
  if (!matches) throw new Error(`--tls-key: ${settings.key} is not the key of the certificate in ${settings.cert}`);
  const options: SecureContextOptions = { cert, key, minVersion: settings.minVersion };
  if (settings.clientCa !== null) {
    const ca = await readFile(settings.clientCa).catch((e: Error) => fileError('--tls-client-ca', settings.clientCa as string, e));
    let authority: X509Certificate;
    try {
      authority = new X509Certificate(ca);
    } catch {
      throw new Error(`--tls-client-ca: ${settings.clientCa} is not a PEM certificate`);
    }
    if (!authority.ca) throw new Error(`--tls-client-ca: ${settings.clientCa} is not a CA certificate (basicConstraints CA:TRUE)`);
    options.ca = ca;
  }
  try {
    createSecureContext(options);
  } catch (error) {
    // OpenSSL's reason (e.g. "ee key too small"): it never quotes the key.
    throw new Error(`the TLS certificate and key are refused: ${oneLine(error)}`);
  }
  return options;
}

/**
 * The HTTPS server options: TLS 1.3 unless 1.2 is allowed, and with a client
 * CA, a client certificate asked for. Optional (the default), it is not
 * required at the handshake: an unverified, expired or unmapped one is
 * refused by authentication with a JSON 401 and an audit record, and clients
 * without one may still present a bearer token (see peer-certificate.ts).
 * Required (certificate-only mode), OpenSSL ends the handshake of a client
 * without a certificate the client CA verifies: such a peer never reaches HTTP.
 */
export function httpsOptions(context: SecureContextOptions, settings: TlsSettings): HttpsOptions {
  const requestCert = settings.clientCa !== null;
  return { ...context, requestCert, rejectUnauthorized: requestCert && settings.clientAuth === 'required' };
}

/**
 * Re-reads the files and swaps the server's secure context: new handshakes
 * use the new certificate, open connections carry on with the one they
 * negotiated. A set that does not check out is refused and the old one kept.
 */
export async function reloadSecureContext(server: TlsServer, settings: TlsSettings): Promise<void> {
  server.setSecureContext(await readSecureContext(settings));
}

function fileError(flag: string, path: string, error: Error): never {
  throw new Error(`${flag}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? oneLine(error)}`);
}

function oneLine(error: unknown): string {
  return ((error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '').slice(0, 200);
}
