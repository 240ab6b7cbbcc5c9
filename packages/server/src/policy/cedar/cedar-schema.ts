import { ACTIONS, type Action } from '../actions.js';

/** The Cedar namespace of Keyward's entity types and actions. */
export const CEDAR_NAMESPACE = 'Keyward';

/** The action group every `crypto.<operation>` action belongs to (`action in Keyward::Action::"crypto"`). */
export const CRYPTO_GROUP = 'crypto';

const actionDeclaration = (action: Action): string =>
  `  action ${JSON.stringify(action)}${action.startsWith('crypto.') ? ` in [${JSON.stringify(CRYPTO_GROUP)}]` : ''} appliesTo {
    principal: [Principal],
    resource: [Key, Service],
    context: RequestContext
  };`;

/**
 * The Cedar schema every policy is validated against (docs/governance.md, "Cedar policies").
 *
 * - `Principal`: the caller. `id` is its principal id (also the entity id);
 *   `kind` (`user` or `service`), `roles`, `environments` and `teams` as on
 *   `POST /v1/principals`.
 * - `Key`: the key acted on, named by its name. `owner` is a principal id or
 *   a team; `tags` are Cedar entity tags (`resource.hasTag("team") &&
 *   resource.getTag("team") == "payments"`).
 * - `Service`: the resource of every request that is about no key (creating
 *   or listing keys, audit, principals, the seal).
 * - Context: `environment`, the environment the request acts in (the key's;
 *   without a key, the one asked for, absent when none is: a listing of every
 *   environment); `operations`, the key operations the principal holds by
 *   grant on this key (its own and its teams' grants); `grantHolder`, whether
 *   it holds any grant on it; `hour` (0–23) and `weekday` (`mon` … `sun`) of
 *   the request time in UTC.
 */
export const CEDAR_SCHEMA = `namespace ${CEDAR_NAMESPACE} {
  type RequestContext = {
    environment?: String,
    operations: Set<String>,
    grantHolder: Bool,
    hour: Long,
    weekday: String
  };

  entity Principal = {
    id: String,
    kind: String,
    roles: Set<String>,
    environments: Set<String>,
    teams: Set<String>
  };

  entity Key = {
    name: String,
    owner: String,
    class: String,
    environment: String,
    algorithm: String,
    state: String
  } tags String;

  entity Service;

  action ${JSON.stringify(CRYPTO_GROUP)};
${ACTIONS.map(actionDeclaration).join('\n')}
}
`;
