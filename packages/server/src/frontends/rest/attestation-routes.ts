import type { FastifyInstance } from 'fastify';
import type { Keyward } from '../../service/keyward.js';
import { callContext } from './call-context.js';

const emptyQuery = { type: 'object', additionalProperties: false, properties: {} } as const;

/** Signed attestations of the installation's state (docs/operations.md "Reading an attestation"). */
export function attestationRoutes(app: FastifyInstance, keyward: Keyward): void {
  const { attestations } = keyward;

  app.get(
    '/v1/attestations/current',
    {
      schema: {
        tags: ['attestations'],
        summary: 'A JWS (EdDSA) signed now with the attestation key: backups, audit chains, key counts, compliance counts',
        querystring: emptyQuery,
      },
    },
    async (req) => attestations.current(callContext(req)),
  );

  app.get(
    '/v1/attestations/public-key',
    {
      schema: {
        tags: ['attestations'],
        summary: 'The Ed25519 public key attestations are signed with (PEM and JWK) and its JWK thumbprint (kid)',
        querystring: emptyQuery,
      },
    },
    async (req) => attestations.publicKey(callContext(req)),
  );
}
