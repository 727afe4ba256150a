/**
 * A small seeded PRNG (mulberry32: 32-bit state, period 2^32, good enough for shuffles and
 * augmentation) so that every data transform is reproducible from one integer seed.
 */

/** Returns uniform floats in [0, 1). */
export type Rng = () => number;

export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A uniform integer in 0..n−1. */
export function randomInt(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

/** A uniformly random permutation of 0..n−1 (Fisher–Yates). */
export function permutation(n: number, rng: Rng): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  shuffleInPlace(p, rng);
  return p;
}

export function shuffleInPlace<T>(a: { [i: number]: T; length: number }, rng: Rng): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = randomInt(rng, i + 1);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
}
