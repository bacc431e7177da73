/** The largest seed the upstream models accept (2^31 - 1). */
export const MAX_SEED = 2_147_483_647

/** A random seed in [0, MAX_SEED): what a submit uses when the seed is not locked. */
export function randomSeed(): number {
  return Math.floor(Math.random() * MAX_SEED)
}
