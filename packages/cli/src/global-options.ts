import { readFile } from 'node:fs/promises';
import type { KeywardClientOptions, KeywardTlsOptions } from '@keyward/client';
import type { CliIo } from './cli-io.js';
import { errnoCode } from './read-input.js';
import { UsageError } from './usage-error.js';

/** Options every command accepts (set on the root program). */
export interface GlobalOptions {
  addr?: string;
  tokenFile?: string;
  namespace?: string;
  otp?: string;
  caFile?: string;
  clientCert?: string;
  clientKey?: string;
  json?: boolean;
}

/** Address used when neither `--addr` nor `KEYWARD_ADDR` is set. */
export const DEFAULT_ADDRESS = 'http://127.0.0.1:8200';

/**
 * Client options from the flags and the environment: `--addr` over
 * `KEYWARD_ADDR` over the default; the token from `--token-file` over
 * `KEYWARD_TOKEN` (never from a flag value: process arguments are visible to
 * every user of the machine); `--namespace` over `KEYWARD_NAMESPACE`; the
 * one-time code of a TOTP authenticator from `--otp` over `KEYWARD_OTP` (a
 * code is good for one admin-level request within about a minute, so it may
 * stand in a process argument, unlike the token).
 *
 * @example
 * const client = new KeywardClient(await clientOptions(command.optsWithGlobals(), io));
 */
export async function clientOptions(options: GlobalOptions, io: CliIo): Promise<KeywardClientOptions> {
  const address = options.addr ?? nonEmpty(io.env.KEYWARD_ADDR) ?? DEFAULT_ADDRESS;
  const token = options.tokenFile === undefined ? nonEmpty(io.env.KEYWARD_TOKEN) : await readToken(options.tokenFile);
  const namespace = options.namespace ?? nonEmpty(io.env.KEYWARD_NAMESPACE);
  const otp = options.otp ?? nonEmpty(io.env.KEYWARD_OTP);
  if (otp !== undefined && !/^[0-9]{6}$/.test(otp))
    throw new UsageError('--otp (or KEYWARD_OTP) must be the 6 digits your authenticator shows');
  const tls = await tlsOptions(options, io, address);
  return { address, token, namespace, otp, fetch: io.fetch, ...(tls === undefined ? {} : { tls }) };
}

/**
 * TLS material from `--ca-file`, `--client-cert` and `--client-key` (or
 * KEYWARD_CACERT, KEYWARD_CLIENT_CERT, KEYWARD_CLIENT_KEY): file paths, read
 * here, so no certificate or key ever stands in a process argument. A client
 * certificate needs its key and the other way round. Only for an https
 * address: the variables are ignored for http, the flags refused.
 */
async function tlsOptions(options: GlobalOptions, io: CliIo, address: string): Promise<KeywardTlsOptions | undefined> {
  const https = address.startsWith('https:');
  if (!https) {
    // The variables may be set for every call of a shell; the flags are meant for this one.
    const flag = options.caFile !== undefined ? '--ca-file' : options.clientCert !== undefined ? '--client-cert' : undefined;
    if (flag !== undefined) throw new UsageError(`${flag} needs an https address (--addr or KEYWARD_ADDR)`);
    return undefined;
  }
  const ca = options.caFile ?? nonEmpty(io.env.KEYWARD_CACERT);
  const cert = options.clientCert ?? nonEmpty(io.env.KEYWARD_CLIENT_CERT);
  const key = options.clientKey ?? nonEmpty(io.env.KEYWARD_CLIENT_KEY);
  if ((cert === undefined) !== (key === undefined)) {
    throw new UsageError('--client-cert and --client-key (or KEYWARD_CLIENT_CERT and KEYWARD_CLIENT_KEY) go together');
  }
  if (ca === undefined && cert === undefined) return undefined;
  const tls: KeywardTlsOptions = {};
  if (ca !== undefined) tls.ca = await readPem('--ca-file', ca);
  if (cert !== undefined && key !== undefined) {
    tls.cert = await readPem('--client-cert', cert);
    tls.key = await readPem('--client-key', key);
  }
  return tls;
}

async function readPem(flag: string, path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${flag} ${path}: ${errnoCode(error)}`);
  }
  // The contents are never quoted: a key file named by mistake must not reach the terminal.
  if (!text.includes('-----BEGIN ')) throw new UsageError(`${flag} ${path} is not a PEM file`);
  return text;
}

async function readToken(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read --token-file ${path}: ${errnoCode(error)}`);
  }
  const token = text.trim();
  if (token === '' || /\s/.test(token)) throw new UsageError(`--token-file ${path} must hold exactly one token`);
  return token;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
