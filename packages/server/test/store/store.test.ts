import { STORE_KINDS } from '../support/stores.js';
import { describeAuditChainConformance } from './audit-chain-conformance.js';
import { describeByokConformance } from './byok-conformance.js';
import { describeGovernanceConformance } from './governance-conformance.js';
import { describeStoreConformance } from './store-conformance.js';
import { describeTlsIdentityConformance } from './tls-identity-conformance.js';
import { describeTotpConformance } from './totp-conformance.js';
import { describeUsageConformance } from './usage-conformance.js';
import { describeWebhookConformance } from './webhook-conformance.js';

// SQLite always; PostgreSQL too when KEYWARD_TEST_DATABASE_URL is set (an unreachable server fails, never skips).
for (const kind of STORE_KINDS) {
  describeStoreConformance(kind);
  describeUsageConformance(kind);
  describeWebhookConformance(kind);
  describeAuditChainConformance(kind);
  describeGovernanceConformance(kind);
  describeTotpConformance(kind);
  describeTlsIdentityConformance(kind);
  describeByokConformance(kind);
}
