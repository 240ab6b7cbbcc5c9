import { type ComplianceReport, type InventoryReport, REPORT_FORMATS, type ReportFormat, type ReportQuery } from '@keyward/wire';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Keyward } from '../../service/keyward.js';
import { callContext } from './call-context.js';
import { complianceMarkdown, inventoryMarkdown, reportCsv } from './report-text.js';
import { environment, keyClass, ownerId } from './schemas.js';

type Query = ReportQuery & { format?: ReportFormat };

const querystring = {
  type: 'object',
  additionalProperties: false,
  properties: { format: { type: 'string', enum: [...REPORT_FORMATS] }, environment, owner: ownerId, class: keyClass },
} as const;

const filters = (query: Query): ReportQuery => {
  const out: ReportQuery = {};
  if (query.environment !== undefined) out.environment = query.environment;
  if (query.owner !== undefined) out.owner = query.owner;
  if (query.class !== undefined) out.class = query.class;
  return out;
};

/** Sends a report in the asked format: JSON (default), CSV (RFC 4180, RFC 7111 media type) or Markdown (RFC 7763). */
function send<T extends InventoryReport | ComplianceReport>(
  reply: FastifyReply,
  format: ReportFormat,
  report: T,
  markdown: (report: T) => string,
): FastifyReply | T {
  if (format === 'csv') return reply.type('text/csv; charset=utf-8; header=present').send(reportCsv(report));
  if (format === 'markdown') return reply.type('text/markdown; charset=utf-8').send(markdown(report));
  return report;
}

/** The namespace's inventory and compliance reports (docs/governance.md, "Reports"). */
export function inventoryRoutes(app: FastifyInstance, keyward: Keyward): void {
  const { inventory } = keyward;

  app.get<{ Querystring: Query }>(
    '/v1/reports/inventory',
    {
      schema: {
        tags: ['reports'],
        summary: "Every key in the caller's environments: owner, class, age of the primary version, next rotation, last use, findings",
        querystring,
      },
    },
    async (req, reply) =>
      send(reply, req.query.format ?? 'json', await inventory.inventory(callContext(req), filters(req.query)), inventoryMarkdown),
  );

  app.get<{ Querystring: Query }>(
    '/v1/reports/compliance',
    {
      schema: {
        tags: ['reports'],
        summary: 'Keys with findings, counts per finding kind, and the accountability summary of each owner',
        querystring,
      },
    },
    async (req, reply) =>
      send(reply, req.query.format ?? 'json', await inventory.compliance(callContext(req), filters(req.query)), complianceMarkdown),
  );
}
