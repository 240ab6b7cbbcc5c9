import type { PrincipalView } from '@keyward/wire';
import { formatDetails } from '../format-details.js';
import { formatTable } from '../format-table.js';

const list = (values: readonly string[]): string => (values.length === 0 ? '-' : values.join(','));

/**
 * One principal.
 *
 * @example
 * io.stdout.write(renderPrincipal(await client.getPrincipal('svc-billing')));
 */
export function renderPrincipal(principal: PrincipalView): string {
  return formatDetails([
    ['ID', principal.id],
    ['Kind', principal.kind],
    ['Roles', list(principal.roles)],
    ['Environments', list(principal.environments)],
    ['Teams', list(principal.teams)],
    ['TLS identities', list(principal.tlsIdentities ?? [])],
    ['Disabled', principal.disabled ? 'yes' : 'no'],
    ['Offboarded', principal.offboardedAt ?? '-'],
    ['Created', principal.createdAt],
  ]);
}

/**
 * Principals as a table.
 *
 * @example
 * io.stdout.write(renderPrincipalList(principals));
 */
export function renderPrincipalList(principals: readonly PrincipalView[]): string {
  if (principals.length === 0) return 'no principals\n';
  return formatTable(
    ['ID', 'KIND', 'ROLES', 'ENVIRONMENTS', 'TEAMS', 'DISABLED'],
    principals.map((p) => [p.id, p.kind, list(p.roles), list(p.environments), list(p.teams), p.disabled ? 'yes' : 'no']),
  );
}
