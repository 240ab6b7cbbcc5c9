import { APPROVAL_STATES, type ApprovalListQuery, type VoteRequest } from '@keyward/wire';
import type { FastifyInstance } from 'fastify';
import { PRINCIPAL_ID_PATTERN } from '../../keys/names.js';
import type { Keyward } from '../../service/keyward.js';
import { callContext } from './call-context.js';
import { name, paging, reason } from './schemas.js';

const uuid = { type: 'string', pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' } as const;
const idParams = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: uuid } } as const;
const voteBody = { type: ['object', 'null'], additionalProperties: false, properties: { comment: reason } } as const;

/** Quorum approvals (docs/governance.md, "Approvals"). */
export function approvalRoutes(app: FastifyInstance, keyward: Keyward): void {
  const { approvals } = keyward;

  app.get<{ Querystring: ApprovalListQuery }>(
    '/v1/approvals',
    {
      schema: {
        tags: ['approvals'],
        summary: 'Approvals in the caller’s environments, newest first',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            state: { type: 'string', enum: [...APPROVAL_STATES] },
            key: name,
            requester: { type: 'string', pattern: PRINCIPAL_ID_PATTERN },
            limit: { ...paging.limit, maximum: 200 },
            cursor: paging.cursor,
          },
        },
      },
    },
    async (req) => approvals.list(callContext(req), req.query),
  );

  app.get<{ Params: { id: string } }>(
    '/v1/approvals/:id',
    { schema: { tags: ['approvals'], summary: 'One approval', params: idParams } },
    async (req) => approvals.get(callContext(req), req.params.id),
  );

  for (const decision of ['approve', 'deny'] as const) {
    app.post<{ Params: { id: string }; Body: VoteRequest | undefined }>(
      `/v1/approvals/:id/${decision}`,
      {
        schema: {
          tags: ['approvals'],
          summary:
            decision === 'approve'
              ? 'Approve (an approver, never the requester); the approval that completes the quorum runs the operation'
              : 'Deny (an approver) or withdraw (the requester): the operation will not run',
          params: idParams,
          body: voteBody,
        },
      },
      async (req) => approvals[decision](callContext(req), req.params.id, req.body?.comment ?? null),
    );
  }
}
