import { format, parse } from 'node:path';

/**
 * The audit chain of worker `slot`: `<node-id>-w<slot>`. The slot is stable
 * across restarts, so a replacement worker continues its predecessor's
 * chain, and checkpoints name every worker's chain.
 *
 * @example workerNodeId('edge-1', 2) // 'edge-1-w2'
 */
export function workerNodeId(nodeId: string, slot: number): string {
  return `${nodeId}-w${slot}`;
}

/**
 * The audit file of worker `slot`: `-w<slot>` inserted before the extension,
 * so each worker's chain has its own file beside the others.
 *
 * @example workerAuditFile('/var/log/keyward/audit.jsonl', 1) // '/var/log/keyward/audit-w1.jsonl'
 */
export function workerAuditFile(path: string, slot: number): string {
  const { dir, name, ext } = parse(path);
  return format({ dir, name: `${name}-w${slot}`, ext });
}
