/**
 * `meanet verify` for the learned deferral model: edge/defer.onnx in onnxruntime against the
 * reference forward pass (`writeFeatures` + `deferScore`, format/defer.ts) of the model export
 * shipped (weights/defer.json, or the seeded one of a random-weight export), on seeded random
 * probabilities (softmax of random logits at random temperatures).
 */
import { join } from "node:path";
import type { Build } from "../../format/build.js";
import { deferScore, featureCount, writeFeatures, type DeferralModel } from "../../format/defer.js";
import { exitInfos } from "../../format/exits.js";
import { DEFER_OUTPUT } from "../../format/manifest.js";
import { feedTensor, openSession } from "../infer/onnx.js";
import { mulberry32 } from "../train/data/rng.js";
import { randomDeferral, trainedDeferral } from "./deferral.js";
import type { OutputCheck } from "./verify.js";

/** `count` rows of random probabilities over k classes. */
function randomProbabilities(count: number, k: number, rng: () => number): Float32Array {
  const out = new Float32Array(count * k);
  for (let r = 0; r < count; r++) {
    const scale = rng() * 8;
    const logits = Array.from({ length: k }, () => rng() * scale);
    const top = Math.max(...logits);
    const e = logits.map((v) => Math.exp(v - top));
    const s = e.reduce((a, b) => a + b, 0);
    e.forEach((v, i) => (out[r * k + i] = v / s));
  }
  return out;
}

/** The deferral file's check, or none when the export has no deferral model. */
export async function checkDeferral(build: Build, count: number, seed: number, tolerance: number): Promise<OutputCheck[]> {
  const exported = build.manifest.export?.deferral;
  if (!exported || count === 0) return [];
  const w = build.manifest.export!.weights;
  const model: DeferralModel = (w.kind === "random" ? randomDeferral(build.ir, w.seed) : trainedDeferral(build.dir, build.ir))!;
  const rng = mulberry32(seed ^ 0xdefe4);
  const probs = model.exits.map((x) => randomProbabilities(count, x.k, rng));
  const exits = exitInfos(build.manifest);
  const session = await openSession(join(build.dir, exported.path));
  try {
    const feeds = Object.fromEntries(model.exits.map((x, i) => [exits.get(x.name)!.output.name, feedTensor("float32", probs[i]!, count, [x.k])]));
    const got = (await session.run(feeds))[DEFER_OUTPUT]!.data as Float32Array;
    const f = featureCount(model.exits.map((x) => x.k));
    const features = new Float64Array(f);
    let maxAbsDiff = 0;
    let referenceMaxAbs = 0;
    for (let r = 0; r < count; r++) {
      writeFeatures(model.exits.map((x, i) => ({ data: probs[i]!, offset: r * x.k, k: x.k })), features);
      const want = deferScore(model, features);
      referenceMaxAbs = Math.max(referenceMaxAbs, Math.abs(want));
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(got[r]! - want));
    }
    return [{ partition: exported.path, output: DEFER_OUTPUT, inputs: "random", mode: "partition", maxAbsDiff, referenceMaxAbs, argmaxAgreement: null, ok: maxAbsDiff <= tolerance }];
  } finally {
    await session.release();
  }
}
