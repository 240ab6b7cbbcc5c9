import type { PolicyStatusView } from '@keyward/wire';
import type { CedarPolicyStatusSource } from '../policy/cedar/policy-directory.js';
import type { PolicySource } from '../policy/policy-file.js';
import type { CallContext } from './context.js';
import type { Gate } from './gate.js';

/** `GET /v1/sys/policy`: which policy file and Cedar policy files are in force, their digests, and why newer ones were refused. */
export class PolicyService {
  readonly #gate: Gate;
  readonly #policy: PolicySource;
  readonly #policies: CedarPolicyStatusSource;

  constructor(deps: { gate: Gate; policy: PolicySource; policies: CedarPolicyStatusSource }) {
    this.#gate = deps.gate;
    this.#policy = deps.policy;
    this.#policies = deps.policies;
  }

  /** The policy in force; the source of every threshold and rule that reads it. */
  get source(): PolicySource {
    return this.#policy;
  }

  status(ctx: CallContext): Promise<PolicyStatusView> {
    return this.#gate.run(ctx, 'policy.read', async (scope) => {
      scope.authorize();
      return { ...this.#policy.status(), cedar: this.#policies.status() };
    });
  }
}
