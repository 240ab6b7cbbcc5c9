import type { PolicyStatusView } from '@keyward/wire';
import type { PolicySource } from '../policy/policy-file.js';
import type { CallContext } from './context.js';
import type { Gate } from './gate.js';

/** `GET /v1/sys/policy`: which policy file is in force, its digest, and why a newer one was refused. */
export class PolicyService {
  readonly #gate: Gate;
  readonly #policy: PolicySource;

  constructor(deps: { gate: Gate; policy: PolicySource }) {
    this.#gate = deps.gate;
    this.#policy = deps.policy;
  }

  /** The policy in force; the source of every threshold and rule that reads it. */
  get source(): PolicySource {
    return this.#policy;
  }

  status(ctx: CallContext): Promise<PolicyStatusView> {
    return this.#gate.run(ctx, 'policy.read', async (scope) => {
      scope.authorize();
      return this.#policy.status();
    });
  }
}
