/** Key and namespace names (API.md, Conventions). */
export const NAME_PATTERN = '^[a-z0-9][a-z0-9._-]{0,127}$';
export const NAME_REGEX = new RegExp(NAME_PATTERN);
/** Principal ids follow the same rule, so they are safe in paths and logs. */
export const PRINCIPAL_ID_PATTERN = NAME_PATTERN;
