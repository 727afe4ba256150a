/**
 * The images int8 ranges are calibrated on: the first images of the validation split training
 * held out. Weights that were never trained (`--random-weights`) have no held-out split: seeded
 * images of the training split are taken, or, when the spec's data set is not on this machine,
 * seeded random pixels; a warning says which.
 */
import { Codes, MeanetError } from "../../diagnostics/index.js";
import type { Build } from "../../format/build.js";
import type { Calibration } from "../../format/quantize.js";
import { isDataError } from "../train/data/errors.js";
import { subset } from "../train/data/dataset.js";
import { loadSplit, locateFor } from "../train/data/locate.js";
import { mulberry32, permutation } from "../train/data/rng.js";
import { loadValidation } from "../train/data/validation.js";
import type { CalibrationImages } from "./calibrate.js";

export interface CalibrationSource {
  build: Pick<Build, "ir" | "manifest" | "dir">;
  dataDir: string | undefined;
  calibration: Calibration;
  /** The seed of random weights; undefined for trained ones. */
  randomSeed: number | undefined;
  warn: (line: string) => void;
}

function seededPixels(count: number, size: number, seed: number): Uint8Array {
  const rng = mulberry32(seed);
  return Uint8Array.from({ length: count * size }, () => Math.floor(rng() * 256));
}

export function calibrationImages(s: CalibrationSource): CalibrationImages {
  const { build, calibration, randomSeed } = s;
  const n = calibration.images;
  if (randomSeed === undefined) {
    const v = loadValidation(build, s.dataDir, s.warn);
    if (v.count === 0) {
      throw new MeanetError(Codes.CalibrationFailed, `the calibration set is empty: training held out no validation images (\`validation: ${build.ir.training.validationSplit}\`), and int8 ranges are calibrated on them; train with a validation split, or export --random-weights`);
    }
    const count = Math.min(n, v.count);
    return { images: v.images.subarray(0, count * (v.images.length / Math.max(1, v.count))), count, source: `the first ${count} of ${v.source}` };
  }
  const { manifest } = build;
  const size = manifest.input.shape.reduce((a, b) => a * b, 1);
  try {
    const located = locateFor({ input: manifest.input, labels: manifest.labels }, s.dataDir);
    const train = loadSplit(located, "train");
    const picked = subset(train, permutation(train.count, mulberry32(randomSeed)).subarray(0, Math.min(n, train.count)));
    s.warn(`warning: the weights are random, so no images were held out; calibrating on ${picked.count} seeded images of the training split (${located.description})`);
    return { images: picked.images, count: picked.count, source: `${picked.count} seeded training images of ${located.description} (random weights)` };
  } catch (e) {
    if (!isDataError(e) || s.dataDir !== undefined) throw e;
    s.warn(`warning: the weights are random and no data set fits the input here; calibrating on ${n} images of seeded random pixels`);
    return { images: seededPixels(n, size, randomSeed), count: n, source: `${n} images of seeded random pixels (random weights, no data set)` };
  }
}
