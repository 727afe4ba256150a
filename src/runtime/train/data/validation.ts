/**
 * The validation split a build was trained with (the images whose gradients training never used):
 * what `meanet eval` calibrates thresholds on and `meanet export` calibrates int8 ranges on.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Build } from "../../../format/build.js";
import { splitValidation, take } from "./dataset.js";
import { loadSplit, locateFor } from "./locate.js";

/**
 * The validation split the build was trained with: the data set's own (an image folder's val/), or
 * the training split, limited as training was, split with the training seed.
 */
export function loadValidation(build: Pick<Build, "ir" | "manifest" | "dir">, dataDir: string | undefined, note: (s: string) => void) {
  const { ir, manifest } = build;
  const located = locateFor({ input: manifest.input, labels: manifest.labels }, dataDir);
  if (located.files.validation) {
    const v = loadSplit(located, "validation");
    return { images: v.images, labels: v.labels, count: v.count, source: `${v.count} validation images of ${located.description}` };
  }
  let train = loadSplit(located, "train");
  let seed = ir.training.seed;
  const reportPath = join(build.dir, "train-report.json");
  let expected: number | undefined;
  if (existsSync(reportPath)) {
    try {
      const r = JSON.parse(readFileSync(reportPath, "utf8")) as { seed?: number; data?: { train?: number; validation?: number } };
      if (typeof r.seed === "number") seed = r.seed;
      const total = (r.data?.train ?? 0) + (r.data?.validation ?? 0);
      if (total > 0 && total < train.count) train = take(train, total);
      expected = r.data?.validation;
    } catch {
      note("train-report.json is unreadable; calibrating on the validation split of the spec's seed");
    }
  }
  const { validation } = splitValidation(train, ir.training.validationSplit, seed);
  if (expected !== undefined && expected !== validation.count) {
    note(`warning: training held out ${expected} validation images but ${located.description} gives ${validation.count}; the calibration split may overlap the training images`);
  }
  return { images: validation.images, labels: validation.labels, count: validation.count, source: `${validation.count} held-out validation images of ${located.description}` };
}

