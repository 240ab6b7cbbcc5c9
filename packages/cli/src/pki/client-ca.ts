// @peculiar/x509 resolves its services with tsyringe, which needs the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/** ECDSA P-256 with SHA-256 (FIPS 186-5; RFC 5758 for its use in certificates). */
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

/** A certificate and its private key, PEM. */
export interface IssuedPem {
  cert: string;
  key: string;
}

/** Node's WebCrypto, as the Crypto @peculiar/x509 expects. */
const crypto = webcrypto as unknown as NonNullable<Parameters<typeof x509.X509CertificateGenerator.create>[1]>;
const subtle = webcrypto.subtle;

/** A positive 128-bit serial number (RFC 5280, 4.1.2.2: at most 20 octets, positive), from the CSPRNG. */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] as number) & 0x7f;
  return bytes.toString('hex');
}

async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

async function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
}

/**
 * A new client CA for Keyward's own clients: an ECDSA P-256 key and a
 * self-signed certificate with basicConstraints CA (path length 0: it issues
 * client certificates only) and keyUsage keyCertSign and cRLSign.
 *
 * @example
 * const { cert, key } = await createClientCa({ name: 'Keyward client CA', days: 3650 });
 */
export async function createClientCa(options: { name: string; days: number; now?: Date }): Promise<IssuedPem> {
  const now = options.now ?? new Date();
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serialNumber(),
      name: [{ CN: [options.name] }],
      notBefore: now,
      notAfter: new Date(now.getTime() + options.days * DAY_MS),
      signingAlgorithm: ALGORITHM,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { cert: cert.toString('pem'), key: await privateKeyPem(keys.privateKey) };
}

export interface ClientCertificateRequest {
  /** The CA that signs (PEM, from {@link createClientCa}). */
  ca: IssuedPem;
  /** The subject's common name: the principal id. */
  commonName: string;
  /** SAN URIs (e.g. `spiffe://keyward/svc-billing`). */
  uris: readonly string[];
  /** SAN DNS names. */
  dnsNames: readonly string[];
  notBefore: Date;
  notAfter: Date;
}

/**
 * A client certificate signed by the CA: a fresh ECDSA P-256 key,
 * extendedKeyUsage clientAuth, keyUsage digitalSignature, the SAN URIs and
 * DNS names Keyward maps to a principal, not a CA.
 *
 * @example
 * const { cert, key } = await issueClientCertificate({ ca, commonName: 'svc-billing', uris: ['spiffe://keyward/svc-billing'], dnsNames: [], notBefore, notAfter });
 */
export async function issueClientCertificate(request: ClientCertificateRequest): Promise<IssuedPem> {
  const caCert = new x509.X509Certificate(request.ca.cert);
  const signingKey = await subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(request.ca.key), ALGORITHM, false, ['sign']);
  const keys = await generateKeys();
  const names: x509.JsonGeneralNames = [
    ...request.uris.map((value) => ({ type: 'url' as const, value })),
    ...request.dnsNames.map((value) => ({ type: 'dns' as const, value })),
  ];
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serialNumber(),
      subject: [{ CN: [request.commonName] }],
      issuer: caCert.subject,
      notBefore: request.notBefore,
      notAfter: request.notAfter,
      signingAlgorithm: ALGORITHM,
      publicKey: keys.publicKey,
      signingKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
        new x509.SubjectAlternativeNameExtension(names, false),
        await x509.AuthorityKeyIdentifierExtension.create(caCert, false, crypto),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { cert: cert.toString('pem'), key: await privateKeyPem(keys.privateKey) };
}
