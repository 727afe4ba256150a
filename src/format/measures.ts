/**
 * Confidence measures of one exit's softmax probabilities (dsl/reference.md §10), for one sample:
 * `probs[offset .. offset + k)`.
 */
import type { Measure } from "./conditions.js";

export function entropy(p: Float32Array, offset: number, k: number): number {
  let h = 0;
  for (let i = 0; i < k; i++) {
    const v = p[offset + i]!;
    if (v > 0) h -= v * Math.log(v);
  }
  return h;
}

export function argmax(p: Float32Array, offset: number, k: number): number {
  let best = 0;
  for (let i = 1; i < k; i++) if (p[offset + i]! > p[offset + best]!) best = i;
  return best;
}

export function maxProb(p: Float32Array, offset: number, k: number): number {
  return p[offset + argmax(p, offset, k)]!;
}

export function margin(p: Float32Array, offset: number, k: number): number {
  let first = -Infinity;
  let second = -Infinity;
  for (let i = 0; i < k; i++) {
    const v = p[offset + i]!;
    if (v > first) {
      second = first;
      first = v;
    } else if (v > second) second = v;
  }
  return k > 1 ? first - second : first;
}

/** Sum of the probabilities of the exit's outputs that are hard classes (`hard[i]` for output i). */
export function hardMass(p: Float32Array, offset: number, k: number, hard: readonly boolean[]): number {
  let s = 0;
  for (let i = 0; i < k; i++) if (hard[i]) s += p[offset + i]!;
  return s;
}

/** A measure of one exit's probabilities (every measure but `defer`, which is a model over several exits). */
export function measureOf(m: Exclude<Measure, "defer">, p: Float32Array, offset: number, k: number, hard: readonly boolean[]): number {
  switch (m) {
    case "entropy":
      return entropy(p, offset, k);
    case "normalized_entropy":
      return k > 1 ? entropy(p, offset, k) / Math.log(k) : 0;
    case "max_prob":
      return maxProb(p, offset, k);
    case "margin":
      return margin(p, offset, k);
    case "hard_mass":
      return hardMass(p, offset, k, hard);
  }
}
