import { KeywardError, MAX_TLS_IDENTITIES, TLS_IDENTITY_PATTERN } from '@keyward/wire';

const IDENTITY = new RegExp(TLS_IDENTITY_PATTERN);

/**
 * Checks the `tlsIdentities` of a request (the REST schema checks the same
 * shape; other front ends rely on this) and answers them without duplicates,
 * sorted. `uri:` needs an absolute URI, `dns:` a lower-case host name.
 */
export function checkTlsIdentities(identities: readonly string[]): string[] {
  if (identities.length > MAX_TLS_IDENTITIES) {
    throw new KeywardError('invalid_request', `tlsIdentities: at most ${MAX_TLS_IDENTITIES} identities`);
  }
  for (const identity of identities) {
    const absoluteUri = !identity.startsWith('uri:') || URL.canParse(identity.slice(4));
    if (!IDENTITY.test(identity) || !absoluteUri) {
      throw new KeywardError(
        'invalid_request',
        `tlsIdentities: '${identity.slice(0, 64)}' is neither uri: and an absolute URI nor dns: and a lower-case host name`,
      );
    }
  }
  return [...new Set(identities)].sort();
}
