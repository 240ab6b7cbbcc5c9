import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import type { ClientCertificate } from '../../service/client-certificate.js';

/** id-kp-clientAuth and anyExtendedKeyUsage (RFC 5280, 4.2.1.12). */
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const ANY_EXTENDED_KEY_USAGE = '2.5.29.37.0';

/**
 * The client certificate of the request's TLS connection (mutual TLS), or
 * null when it presented none or the connection is not TLS. With
 * `--tls-client-ca` the server asks for a certificate but lets the handshake
 * finish whatever it is (`rejectUnauthorized: false`), so that a refusal is a
 * JSON 401 with an audit record; `verified` carries the TLS layer's verdict.
 */
export function peerCertificate(request: FastifyRequest): ClientCertificate | null {
  const socket = request.raw.socket as Partial<TLSSocket>;
  if (socket.encrypted !== true || typeof socket.getPeerCertificate !== 'function') return null;
  const peer = socket.getPeerCertificate(false);
  if (peer === null || Object.keys(peer).length === 0 || peer.raw === undefined) return null;
  const eku = peer.ext_key_usage;
  return {
    verified: socket.authorized === true,
    error: socket.authorized === true ? null : String(socket.authorizationError ?? 'unverified'),
    identities: sanIdentities(peer.subjectaltname ?? ''),
    notAfter: Date.parse(peer.valid_to),
    clientAuth: eku === undefined || eku.includes(CLIENT_AUTH) || eku.includes(ANY_EXTENDED_KEY_USAGE),
    fingerprint: peer.fingerprint256,
  };
}

/**
 * `uri:` and `dns:` identities from Node's `subjectaltname` string:
 * `DNS:a.example, URI:spiffe://x/y, IP Address:…`. Node writes a value that
 * holds a comma, a quote or a backslash (or leading or trailing blanks, or
 * non-ASCII) as a JSON string, so the list splits unambiguously.
 */
export function sanIdentities(subjectAltName: string): string[] {
  const identities: string[] = [];
  let rest = subjectAltName;
  while (rest.length > 0) {
    const colon = rest.indexOf(':');
    if (colon < 0) break;
    const type = rest.slice(0, colon);
    rest = rest.slice(colon + 1);
    let value: string;
    if (rest.startsWith('"')) {
      const end = closingQuote(rest);
      if (end < 0) break;
      value = JSON.parse(rest.slice(0, end + 1)) as string;
      rest = rest.slice(end + 1);
    } else {
      const comma = rest.indexOf(', ');
      value = comma < 0 ? rest : rest.slice(0, comma);
      rest = comma < 0 ? '' : rest.slice(comma);
    }
    if (rest.startsWith(', ')) rest = rest.slice(2);
    if (type === 'URI') identities.push(`uri:${value}`);
    else if (type === 'DNS') identities.push(`dns:${value.toLowerCase()}`);
  }
  return identities;
}

function closingQuote(text: string): number {
  for (let i = 1; i < text.length; i++) {
    if (text[i] === '\\') i += 1;
    else if (text[i] === '"') return i;
  }
  return -1;
}
