import { KeywardError } from '@keyward/wire';
import type { FastifyRequest } from 'fastify';
import { NAME_REGEX } from '../../keys/names.js';
import type { CallContext } from '../../service/context.js';
import { peerCertificate } from './peer-certificate.js';

const BEARER = /^Bearer (\S+)$/;

/** Translates an HTTP request into the service's call context. */
export function callContext(request: FastifyRequest): CallContext {
  const header = request.headers['x-keyward-namespace'];
  const namespace = header === undefined ? 'default' : String(header);
  if (!NAME_REGEX.test(namespace)) throw new KeywardError('invalid_request', `X-Keyward-Namespace: must match ${NAME_REGEX.source}`);
  const authorization = request.headers.authorization;
  const match = authorization === undefined ? null : BEARER.exec(authorization);
  const otp = request.headers['x-keyward-otp'];
  return {
    credential: match?.[1] ?? null,
    clientCertificate: peerCertificate(request),
    otp: typeof otp === 'string' ? otp : null,
    requestId: request.id,
    source: request.ip,
    namespace,
  };
}
