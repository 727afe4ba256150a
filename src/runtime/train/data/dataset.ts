/**
 * The in-memory dataset every loader yields, and the transforms training needs on it. Datasets are
 * treated as immutable: transforms return new datasets (views where no copy is needed), and every
 * random choice comes from a seed, so the same seed gives the same data.
 */
import { mulberry32, permutation, shuffleInPlace } from "./rng.js";

export interface Dataset {
  /** NHWC uint8 pixels: image i, row y, column x, channel c at ((i·height + y)·width + x)·channels + c. */
  images: Uint8Array;
  /** One label per image, in 0..classes−1. */
  labels: Int32Array;
  count: number;
  height: number;
  width: number;
  channels: number;
  classes: number;
}

export function imageSize(ds: Pick<Dataset, "height" | "width" | "channels">): number {
  return ds.height * ds.width * ds.channels;
}

/** The images at the given indices, in that order (a copy). */
export function subset(ds: Dataset, indices: ArrayLike<number>): Dataset {
  const size = imageSize(ds);
  const images = new Uint8Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    if (!(i >= 0 && i < ds.count)) throw new RangeError(`subset: index ${i} outside 0..${ds.count - 1}`);
    images.set(ds.images.subarray(i * size, (i + 1) * size), k * size);
    labels[k] = ds.labels[i]!;
  }
  return { ...ds, images, labels, count: indices.length };
}

/** The first n images (all of them when n ≥ count); shares memory with ds. */
export function take(ds: Dataset, n: number): Dataset {
  const count = Math.max(0, Math.min(Math.floor(n), ds.count));
  const size = imageSize(ds);
  return { ...ds, images: ds.images.subarray(0, count * size), labels: ds.labels.subarray(0, count), count };
}

/** A seeded random reordering. */
export function shuffle(ds: Dataset, seed: number): Dataset {
  return subset(ds, permutation(ds.count, mulberry32(seed)));
}

/** How many images each class has. */
export function classHistogram(ds: Pick<Dataset, "labels" | "classes">): number[] {
  const h = new Array<number>(ds.classes).fill(0);
  for (const l of ds.labels) h[l]!++;
  return h;
}

/**
 * A stratified split: round(fraction·count) images go to validation, spread over the classes in
 * proportion to their sizes (largest remainder), chosen at random within each class. Both parts
 * keep the original order.
 */
export function splitValidation(ds: Dataset, fraction: number, seed: number): { train: Dataset; validation: Dataset } {
  if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`splitValidation: fraction ${fraction} outside 0..1`);
  const byClass: number[][] = Array.from({ length: ds.classes }, () => []);
  for (let i = 0; i < ds.count; i++) byClass[ds.labels[i]!]!.push(i);

  const quotas = byClass.map((ix) => fraction * ix.length);
  const chosen = quotas.map(Math.floor);
  let left = Math.round(fraction * ds.count) - chosen.reduce((a, b) => a + b, 0);
  const remainder = (c: number) => quotas[c]! - chosen[c]!;
  const order = byClass.map((_, c) => c).sort((a, b) => remainder(b) - remainder(a) || a - b);
  for (const c of order) {
    if (left <= 0) break;
    if (chosen[c]! < byClass[c]!.length) {
      chosen[c]!++;
      left--;
    }
  }

  const rng = mulberry32(seed);
  const inValidation = new Uint8Array(ds.count);
  byClass.forEach((ix, c) => {
    shuffleInPlace(ix, rng);
    for (let k = 0; k < chosen[c]!; k++) inValidation[ix[k]!] = 1;
  });
  const train: number[] = [];
  const validation: number[] = [];
  for (let i = 0; i < ds.count; i++) (inValidation[i] ? validation : train).push(i);
  return { train: subset(ds, train), validation: subset(ds, validation) };
}

/**
 * Keeps the images of the given classes and renumbers their labels 0..H−1 in the order given
 * (MEANet trains the extension block on the hard classes only, remapped this way).
 */
export function filterClasses(ds: Dataset, classes: readonly number[]): Dataset {
  const remap = new Int32Array(ds.classes).fill(-1);
  classes.forEach((c, k) => {
    if (!Number.isInteger(c) || c < 0 || c >= ds.classes) throw new RangeError(`filterClasses: class ${c} outside 0..${ds.classes - 1}`);
    if (remap[c] !== -1) throw new RangeError(`filterClasses: class ${c} given twice`);
    remap[c] = k;
  });
  const keep: number[] = [];
  for (let i = 0; i < ds.count; i++) if (remap[ds.labels[i]!] !== -1) keep.push(i);
  const out = subset(ds, keep);
  for (let k = 0; k < out.count; k++) out.labels[k] = remap[out.labels[k]!]!;
  return { ...out, classes: classes.length };
}
