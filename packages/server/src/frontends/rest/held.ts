import type { FastifyReply } from 'fastify';
import { isPending } from '../../service/approvals.js';

/**
 * Answers an operation that a quorum may hold: `202 {"approval": …}` when it
 * waits for approvals (docs/governance.md, "Approvals"), else its own answer
 * with `status` (200 unless said).
 */
export function held<T extends object>(reply: FastifyReply, result: T, status = 200): FastifyReply {
  return reply.code(isPending(result) ? 202 : status).send(result);
}
