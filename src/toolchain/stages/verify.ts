import { verifyBuild } from "../../runtime/export/verify.js";
import { DEFAULT_PRECISION_GATES } from "../../runtime/export/verifyPrecision.js";
import { selectBackend } from "../../runtime/train/backend.js";
import { take } from "../../runtime/train/data/dataset.js";
import { loadSplit } from "../../runtime/train/data/locate.js";
import { hashOf } from "../buildStages.js";
import type { BuildData, Stage, StageContext } from "./stage.js";
import { sha256 } from "../../format/hash.js";

/** The checks of the verify stage: those of `meanet verify` by default. */
export const VERIFY_SETTINGS = { randomSamples: 4, real: 64, seed: 0, tolerance: 1e-4, precisionImages: 1000, precisionRandom: 256, gates: DEFAULT_PRECISION_GATES } as const;

/**
 * The verify stage: every exported file in onnxruntime against tfjs, on seeded random inputs and
 * real test images. Its inputs: the ONNX files, the weights, the IR, the test data, the settings.
 */
export function verifyStage({ b, job, log, p, tool }: StageContext, data: BuildData): Stage {
  const backend = job.backend ?? "auto";
  return {
    inputs: { tool: tool("verify"), onnx: p.outputsOf("export"), weights: p.outputsOf("train"), ir: sha256(b.irText), data: data.identity.test, options: hashOf({ ...VERIFY_SETTINGS, backend }) },
    async work() {
      const used = await selectBackend(backend);
      const split = loadSplit(data.located, "test");
      const test = take(split, VERIFY_SETTINGS.real);
      const labelled = take(split, VERIFY_SETTINGS.precisionImages);
      const { randomSamples, seed, tolerance, gates } = VERIFY_SETTINGS;
      const precision = { real: { values: labelled.images, labels: labelled.labels, count: labelled.count }, randomSamples: VERIFY_SETTINGS.precisionRandom, gates };
      const v = await verifyBuild({ buildDir: b.dir, randomSamples, seed, tolerance, real: { values: test.images, count: test.count, source: data.located.kind }, precision });
      const worst = Math.max(...v.checks.map((c) => c.maxAbsDiff));
      for (const c of v.checks.filter((x) => !x.ok)) {
        log.err(`error: ${c.partition} output ${c.output} (${c.inputs} inputs, ${c.mode}) differs from tfjs by ${c.maxAbsDiff.toExponential(2)}, above the tolerance ${tolerance}`);
      }
      for (const c of v.precision.filter((x) => !x.ok)) {
        log.err(`error: ${c.partition} (${c.precision}) exit ${c.exit} agrees with its float32 reference on ${(c.agreement * 100).toFixed(2)}% of ${c.samples} real images, accuracy change ${c.accuracyChange?.toFixed(2) ?? "—"} points (gates: ≥ ${gates.minAgreement * 100}%, ≥ ${gates.minAccuracyChange} points)`);
      }
      if (!v.ok) return { failed: `${v.checks.filter((c) => !c.ok).length} of ${v.checks.length} outputs differ from tfjs (${used}) by more than ${tolerance}; ${v.precision.filter((c) => !c.ok).length} shipped exits miss a gate` };
      const gated = v.precision.filter((c) => c.gated);
      const least = gated.length ? `; shipped files agree with their references on ≥ ${(Math.min(...gated.map((c) => c.agreement)) * 100).toFixed(1)}% of ${labelled.count} real images` : "";
      return { outputs: {}, summary: `${v.checks.length} outputs of onnxruntime within ${tolerance} of tfjs (${used}), largest difference ${worst.toExponential(2)}, on ${randomSamples} random and ${test.count} real inputs${least}` };
    },
  };
}
