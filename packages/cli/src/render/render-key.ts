import type { KeyList, KeyView } from '@keyward/wire';
import { formatDetails } from '../format-details.js';
import { formatTable } from '../format-table.js';

/**
 * A key with its metadata and a table of its versions.
 *
 * @example
 * io.stdout.write(renderKey(await client.getKey('payments-db')));
 */
export function renderKey(key: KeyView): string {
  const details = formatDetails([
    ['Name', key.name],
    ['Namespace', key.namespace],
    ['ID', key.id],
    ['Algorithm', `${key.algorithm} (${key.usage})`],
    ['State', key.state],
    ['Owner', key.owner],
    ['Class', key.class],
    ['Environment', key.environment],
    ['Description', key.description],
    [
      'Tags',
      Object.entries(key.tags)
        .map(([name, value]) => `${name}=${value}`)
        .join(', '),
    ],
    ['Primary version', String(key.primaryVersion)],
    ['Rotation period', key.rotationPeriod ?? '-'],
    ['Next rotation', key.nextRotationAt ?? '-'],
    ['Max uses/version', key.maxUsesPerVersion === null ? '-' : String(key.maxUsesPerVersion)],
    ['Prepublish period', key.prepublishPeriod ?? '-'],
    ['Originator period', key.originatorPeriod ?? '-'],
    ['Min decrypt version', String(key.minDecryptionVersion)],
    ['Exportable', key.exportable ? 'yes' : 'no'],
    ['Protection', key.protection],
    ['Deletion window', `${key.deletionWindowDays} days`],
    ['Deletion date', key.deletionDate ?? '-'],
    ['Last reviewed', key.lastReviewedAt ?? 'never'],
    ['Next review', key.nextReviewAt ?? '-'],
    ['Created', key.createdAt],
    ['Updated', key.updatedAt],
  ]);
  if (key.versions === undefined || key.versions.length === 0) return details;
  const versions = formatTable(
    ['VERSION', 'STATE', 'TRIGGER', 'CREATED', 'ACTIVATES', 'USES', 'FINGERPRINT'],
    key.versions.map((version) => [
      version.version === key.primaryVersion ? `${version.version}*` : String(version.version),
      version.state,
      version.trigger,
      version.createdAt,
      version.activationDate ?? '-',
      String(version.uses),
      version.fingerprint,
    ]),
  );
  return `${details}\nVersions (* primary):\n${versions}`;
}

/**
 * Keys as a table, one a line.
 *
 * @example
 * io.stdout.write(renderKeyList(await client.listKeys()));
 */
export function renderKeyList(list: KeyList): string {
  if (list.keys.length === 0) return 'no keys\n';
  return formatTable(
    ['NAME', 'ALGORITHM', 'STATE', 'OWNER', 'CLASS', 'ENVIRONMENT', 'PRIMARY'],
    list.keys.map((key) => [key.name, key.algorithm, key.state, key.owner, key.class, key.environment, String(key.primaryVersion)]),
  );
}
