import type { KeyView } from '@keyward/wire';

/** A key object as the contract answers it, for unit tests. */
export function keyView(overrides: Partial<KeyView> = {}): KeyView {
  return {
    id: 'key_01',
    name: 'payments-db',
    namespace: 'default',
    algorithm: 'aes-256-gcm',
    usage: 'encrypt',
    state: 'enabled',
    owner: 'team-payments',
    class: 'critical',
    environment: 'prod',
    description: 'card vault',
    tags: { app: 'payments' },
    rotationPeriod: '90d',
    maxUsesPerVersion: null,
    nextRotationAt: '2026-01-01T00:00:00Z',
    primaryVersion: 1,
    exportable: false,
    deletionWindowDays: 30,
    deletionDate: null,
    createdAt: '2025-01-01T00:00:00Z',
    updatedAt: '2025-01-01T00:00:00Z',
    minDecryptionVersion: 1,
    prepublishPeriod: null,
    originatorPeriod: null,
    lastReviewedAt: null,
    nextReviewAt: '2025-04-01T00:00:00.000Z',
    versions: [
      {
        version: 1,
        state: 'active',
        createdAt: '2025-01-01T00:00:00Z',
        activatedAt: '2025-01-01T00:00:00Z',
        deactivatedAt: null,
        compromisedAt: null,
        destroyedAt: null,
        uses: 3,
        fingerprint: 'sha256:abcd',
        publicKey: null,
        trigger: 'created',
        activationDate: null,
      },
    ],
    ...overrides,
  };
}
