import { KeywardError } from '@keyward/wire';

/**
 * A mutual-TLS client certificate as the front end's TLS layer saw it
 * (docs/operations.md, "Mutual TLS"). The TLS layer verified it against the
 * configured client CA during the handshake; the certificate itself is not
 * kept (only what authentication needs), never logged or recorded.
 */
export interface ClientCertificate {
  /** Whether the chain verified against the client CA, within its validity, at the handshake. */
  verified: boolean;
  /** OpenSSL's reason when it did not (`CERT_HAS_EXPIRED`, `UNABLE_TO_VERIFY_LEAF_SIGNATURE`…), else null. */
  error: string | null;
  /** `uri:` + each SAN URI and `dns:` + each SAN DNS name (lower case), in certificate order. */
  identities: string[];
  /** End of validity (ms since 1970): a keep-alive connection may outlive its certificate. */
  notAfter: number;
  /** Whether its extended key usage, if it has one, allows TLS client authentication. */
  clientAuth: boolean;
  /** SHA-256 fingerprint (hex): the authenticator's cache key. */
  fingerprint: string;
}

/** Why a certificate the TLS layer did not verify is refused (precise, and revealing nothing about principals). */
export function unverifiedReason(error: string | null): string {
  switch (error) {
    case 'CERT_HAS_EXPIRED':
      return 'the client certificate has expired';
    case 'CERT_NOT_YET_VALID':
      return 'the client certificate is not yet valid';
    case 'CERT_REVOKED':
      return 'the client certificate was revoked';
    default:
      return `the client certificate is not issued by a trusted client CA (${error ?? 'unverified'})`;
  }
}

/** Throws `unauthenticated` unless the certificate verified, is still valid and is meant for client authentication. */
export function assertUsable(certificate: ClientCertificate, now: Date): void {
  if (!certificate.verified) throw new KeywardError('unauthenticated', unverifiedReason(certificate.error));
  if (certificate.notAfter <= now.getTime()) throw new KeywardError('unauthenticated', 'the client certificate has expired');
  if (!certificate.clientAuth) {
    throw new KeywardError(
      'unauthenticated',
      'the client certificate is not for client authentication (its extendedKeyUsage lacks clientAuth)',
    );
  }
  if (certificate.identities.length === 0) {
    throw new KeywardError('unauthenticated', 'the client certificate names no SAN URI or DNS name to map to a principal');
  }
}
