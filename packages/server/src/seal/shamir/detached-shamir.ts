import { ShamirSeal } from './shamir-seal.js';

/**
 * A new Shamir seal whose state lives in memory until the caller stores it
 * (a restore or a rekey writes it into the target database in the same
 * transaction as the data): initialized with a fresh root key split into
 * `shares` of which `threshold` unseal.
 */
export async function newDetachedShamirSeal(
  shares: number,
  threshold: number,
): Promise<{ seal: ShamirSeal; shares: string[]; state: () => string | null }> {
  let state: string | null = null;
  const seal = new ShamirSeal({
    state: {
      read: async () => state,
      create: async (value) => {
        if (state !== null) return false;
        state = value;
        return true;
      },
    },
  });
  await seal.open();
  const issued = await seal.init({ shares, threshold });
  return { seal, shares: issued, state: () => state };
}
