import { isShareSeal, type Seal, type SealStatus } from '../seal/seal.js';
import { zero } from '../seal/zero.js';
import type { Keyward } from '../service/keyward.js';
import type { SealPeers } from '../service/sys-service.js';
import type { PrimaryLink, SealEvent } from './primary-link.js';

/** This worker's seal steps, told to the other workers through the primary (see {@link SealPeers}). */
export class LinkSealPeers implements SealPeers {
  readonly #link: PrimaryLink;

  constructor(link: PrimaryLink) {
    this.#link = link;
  }

  claimInit(): Promise<boolean> {
    return this.#link.request('claim-init');
  }

  async releaseInit(): Promise<void> {
    await this.#link.request('release-init');
  }

  initialized(shares: readonly string[]): Promise<void> {
    return this.#link.broadcast({ type: 'initialized', shares: shares.map((s) => Buffer.from(s, 'utf8')) });
  }

  shareSubmitted(share: string, status: SealStatus): Promise<void> {
    return this.#link.broadcast({ type: 'share', share: Buffer.from(share, 'utf8'), reset: status.sealed && status.progress === 0 });
  }

  sealed(): Promise<void> {
    return this.#link.broadcast({ type: 'sealed' });
  }
}

/**
 * Applies what other workers did to their seal to this worker's: seal,
 * initialize (load the new Shamir state, then unseal with the shares),
 * take a share; and, on joining, the state the others are in. After an
 * unseal the audit secrets are loaded, as `POST /v1/sys/unseal` does.
 */
export function followSealEvents(link: PrimaryLink, seal: Seal, keyward: Pick<Keyward, 'sys' | 'ready'>): void {
  const submit = async (shares: readonly Uint8Array[]) => {
    if (!isShareSeal(seal)) return;
    // The state may be newer than what this worker loaded (an init by another worker).
    await seal.open();
    for (const share of shares) {
      // A share the seal refuses here was refused (and relayed as a reset) where it was submitted too.
      await seal.submitShare(Buffer.from(share).toString('utf8')).catch(() => null);
      zero(share);
    }
    if (!seal.status().sealed) await keyward.ready();
  };
  link.onSealEvent(async (event: SealEvent) => {
    switch (event.type) {
      case 'sealed':
        keyward.sys.sealLocally();
        return;
      case 'initialized':
        return submit(event.shares);
      case 'share':
        return submit([event.share]);
      case 'state':
        if (event.sealed) keyward.sys.sealLocally();
        else if (event.shares.length > 0) await submit(event.shares);
        return;
    }
  });
}
