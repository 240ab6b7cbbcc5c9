/** Which principal holds a TLS client identity (`uri:…` or `dns:…`). */
export interface TlsIdentityRow {
  identity: string;
  principalId: string;
}

/** The TLS client identities of principals (SQL in tls-identity-ops.ts); docs/operations.md, "Mutual TLS". */
export interface TlsIdentityStoreOps {
  /** Each principal's identities, sorted; principals without any are absent from the map. */
  listTlsIdentities(principalIds: readonly string[]): Promise<Map<string, string[]>>;
  /**
   * Replaces a principal's identities with `identities` (empty: none).
   * Throws StoreConflictError naming the identity when another principal
   * holds one of them; nothing changes then.
   */
  setTlsIdentities(principalId: string, identities: readonly string[]): Promise<void>;
  /** The holders of any of `identities`, ordered by identity. */
  findTlsIdentities(identities: readonly string[]): Promise<TlsIdentityRow[]>;
}
