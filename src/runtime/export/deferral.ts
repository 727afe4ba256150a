/**
 * The deferral model export ships: the one the deferral stage trained (weights/defer.json, checked
 * against the spec's `defer(…)`), or with `--random-weights` a seeded one of the spec's shape.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Codes, MeanetError } from "../../diagnostics/index.js";
import { DEFAULT_HIDDEN, DEFER_WEIGHTS, deferralProblem, deferralRead, featureCount, type DeferralModel } from "../../format/defer.js";
import type { IrJson } from "../../format/ir.js";
import { mulberry32 } from "../train/data/rng.js";

/** The spec's deferral model: the exits it reads with their widths (from ir.json's shapes), and its hidden width; undefined when no rule reads `defer`. */
export function deferralShape(ir: IrJson): { exits: { name: string; k: number }[]; hidden: number } | undefined {
  const read = deferralRead(ir.routing);
  if (!read) return undefined;
  const stage = ir.training.stages.find((s) => s.defer);
  const exits = read.exits.map((name) => ({ name, k: ir.tensors[ir.exits.find((x) => x.name === name)!.tensor]!.shape.at(-1)! }));
  return { exits, hidden: stage?.defer?.hidden ?? DEFAULT_HIDDEN };
}

/** weights/defer.json of a trained build, refused when missing, malformed or of another shape than the spec's. */
export function trainedDeferral(buildDir: string, ir: IrJson): DeferralModel | undefined {
  const shape = deferralShape(ir);
  if (!shape) return undefined;
  const path = join(buildDir, "weights", DEFER_WEIGHTS);
  if (!existsSync(path)) throw new MeanetError(Codes.WeightsMissing, `${path} is missing: the routing rules read \`defer(…)\` and its model is trained by the spec's deferral stage; run meanet train again, or export with --random-weights`);
  let model: unknown;
  try {
    model = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new MeanetError(Codes.WeightsMismatch, `${path} is not valid JSON (${(e as Error).message}); run meanet train again`);
  }
  const problem = deferralProblem(model);
  if (problem) throw new MeanetError(Codes.WeightsMismatch, `${path}: ${problem}; run meanet train again`);
  const m = model as DeferralModel;
  const got = m.exits.map((x) => `${x.name}:${x.k}`).join(", ");
  const want = shape.exits.map((x) => `${x.name}:${x.k}`).join(", ");
  if (got !== want || m.hidden !== shape.hidden) {
    throw new MeanetError(Codes.WeightsMismatch, `${path} reads ${got} with ${m.hidden} hidden units, but the spec's deferral model reads ${want} with ${shape.hidden}; run meanet train again`);
  }
  return m;
}

/** A seeded deferral model of the spec's shape (small random weights), for `--random-weights`. */
export function randomDeferral(ir: IrJson, seed: number): DeferralModel | undefined {
  const shape = deferralShape(ir);
  if (!shape) return undefined;
  const rng = mulberry32(seed ^ 0x0defe4a1);
  const f = featureCount(shape.exits.map((x) => x.k));
  const h = shape.hidden;
  const values = (n: number) => Array.from({ length: n }, () => Math.fround((rng() * 2 - 1) * 0.5));
  return {
    format: "meanet-deferral",
    exits: shape.exits,
    hidden: h,
    w1: values(h === 0 ? f : f * h),
    b1: values(h === 0 ? 1 : h),
    w2: values(h),
    b2: values(h === 0 ? 0 : 1),
    training: { stage: "(random weights)", seed, epochs: 0, samples: 0, positives: 0, rows: { from: 0, to: 0, of: 0 }, finalLoss: 0 },
  };
}
