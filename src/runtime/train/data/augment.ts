/**
 * CIFAR-style augmentation: pad each image with zeros, crop back to its size at a random offset,
 * and mirror it left–right with probability ½ (He et al., 2016, the recipe MEANet trains with).
 */
import type { Rng } from "./rng.js";
import { randomInt } from "./rng.js";

/** A batch of NHWC images, as uint8 pixels or as floats after normalisation. */
export interface ImageBatch<T extends Uint8Array | Float32Array = Uint8Array | Float32Array> {
  images: T;
  count: number;
  height: number;
  width: number;
  channels: number;
}

/**
 * Returns a new batch (the input is not changed). For each image, in order, the generator is
 * drawn three times: vertical offset, horizontal offset (each in 0..2·pad), then the flip.
 */
export function randomCropFlip<B extends ImageBatch>(batch: B, pad: number, rng: Rng): B {
  if (!(Number.isInteger(pad) && pad >= 0)) throw new RangeError(`randomCropFlip: pad ${pad} must be a whole number ≥ 0`);
  const { count, height: h, width: w, channels: ch } = batch;
  const src = batch.images;
  const out = src instanceof Float32Array ? new Float32Array(src.length) : new Uint8Array(src.length);
  const size = h * w * ch;
  for (let i = 0; i < count; i++) {
    const dy = randomInt(rng, 2 * pad + 1) - pad;
    const dx = randomInt(rng, 2 * pad + 1) - pad;
    const flip = rng() < 0.5;
    const base = i * size;
    for (let y = 0; y < h; y++) {
      const sy = y + dy;
      if (sy < 0 || sy >= h) continue;
      for (let x = 0; x < w; x++) {
        const sx = (flip ? w - 1 - x : x) + dx;
        if (sx < 0 || sx >= w) continue;
        const from = base + (sy * w + sx) * ch;
        const to = base + (y * w + x) * ch;
        for (let c = 0; c < ch; c++) out[to + c] = src[from + c]!;
      }
    }
  }
  return { ...batch, images: out };
}
