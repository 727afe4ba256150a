/**
 * The learned deferral rule (dsl/reference.md §10, `defer`): a small model, trained by the spec's
 * deferral stage, that scores how likely sending an input to the cloud gains accuracy (the edge's
 * answer wrong, the cloud's right) from what the edge has already computed. Its inputs are the
 * probabilities of the exits it reads; its features are, per exit, the probabilities followed by the
 * exit's normalized entropy, top probability and margin. This file holds the format (weights/defer.json
 * and the manifest's record of edge/defer.onnx) and the reference forward pass the ONNX file must match.
 */
import { margin, maxProb, entropy } from "./measures.js";
import { measureExits, measuresIn, type Condition, type MeasureRef } from "./conditions.js";

/**
 * Whether an exit's block runs on the edge (`on edge`); an exit of a block `on cloud` or `on auto`
 * is answered by the cloud. What the deferral rule's checks and its stage call edge and cloud.
 */
export function exitOnEdge(ir: { blocks: readonly { name: string; placement: string }[]; exits: readonly { name: string; block: string }[] }, exit: string): boolean {
  const block = ir.exits.find((x) => x.name === exit)?.block;
  return ir.blocks.find((b) => b.name === block)?.placement === "edge";
}

/** Every `defer(…)` a condition reads, left before right. */
export function defersIn(c: Condition | null | undefined): MeasureRef[] {
  return measuresIn(c).filter((m) => m.measure === "defer");
}

/** The deferral measure the rules read (its exits) and the target of the first rule that reads it; undefined when none does. */
export function deferralRead(routing: readonly { target: string; when?: unknown }[]): { exits: string[]; target: string } | undefined {
  for (const rule of routing) {
    const ref = defersIn(rule.when as Condition | null | undefined)[0];
    if (ref) return { exits: measureExits(ref), target: rule.target };
  }
  return undefined;
}

/** The deferral model's file among a build's weights: weights/defer.json. */
export const DEFER_WEIGHTS = "defer.json";

/** The name under which routing reads record the deferral model beside the exits they read (no exit can be named so). */
export const DEFER_READ = "(defer)";

/** The deferral model's file in an export. */
export const DEFER_FILE = "edge/defer.onnx";

/** Hidden units of `defer: mlp` when the stage does not say (and of the model a spec without a deferral stage would read). */
export const DEFAULT_HIDDEN = 16;

/** Features each exit of k outputs contributes: k probabilities, then normalized entropy, max_prob, margin. */
export const MEASURE_FEATURES = 3;

export function featureCount(widths: readonly number[]): number {
  return widths.reduce((s, k) => s + k + MEASURE_FEATURES, 0);
}

/** The trained model as weights/defer.json holds it. `hidden` 0 is logistic regression. */
export interface DeferralModel {
  format: "meanet-deferral";
  /** The exits it reads, in the order of its inputs, and each one's number of outputs. */
  exits: { name: string; k: number }[];
  hidden: number;
  /** features × hidden (row-major), the first layer; the feature scaling is folded in. With hidden 0, features × 1. */
  w1: number[];
  b1: number[];
  /** hidden × 1, the output layer (empty with hidden 0). */
  w2: number[];
  b2: number[];
  /** How it was trained, for the report. */
  training: DeferralTraining;
}

export interface DeferralTraining {
  stage: string;
  seed: number;
  epochs: number;
  /** Held-out images it was fitted on, and how many of them gain from the cloud (the positive class). */
  samples: number;
  positives: number;
  /** Which held-out images: calibration of thresholds on `defer` uses the others. */
  rows: { from: number; to: number; of: number };
  finalLoss: number;
}

/** One sample's features, written into `out` at `at`: per exit its probabilities, normalized entropy, top probability, margin. */
export function writeFeatures(probs: readonly { data: Float32Array; offset: number; k: number }[], out: Float64Array | Float32Array, at = 0): void {
  let j = at;
  for (const { data, offset, k } of probs) {
    for (let i = 0; i < k; i++) out[j++] = data[offset + i]!;
    out[j++] = k > 1 ? entropy(data, offset, k) / Math.log(k) : 0;
    out[j++] = maxProb(data, offset, k);
    out[j++] = margin(data, offset, k);
  }
}

/** The model's score in (0, 1) for one sample's features. */
export function deferScore(m: Pick<DeferralModel, "hidden" | "w1" | "b1" | "w2" | "b2">, features: ArrayLike<number>): number {
  const f = features.length;
  let z: number;
  if (m.hidden === 0) {
    z = m.b1[0]!;
    for (let i = 0; i < f; i++) z += features[i]! * m.w1[i]!;
  } else {
    z = m.b2[0]!;
    for (let h = 0; h < m.hidden; h++) {
      let a = m.b1[h]!;
      for (let i = 0; i < f; i++) a += features[i]! * m.w1[i * m.hidden + h]!;
      if (a > 0) z += a * m.w2[h]!;
    }
  }
  return 1 / (1 + Math.exp(-z));
}

/** Multiply–accumulates of one forward pass (features and layers; the measures count as k each). */
export function deferMacs(widths: readonly number[], hidden: number): number {
  const f = featureCount(widths);
  const measures = widths.reduce((s, k) => s + 3 * k, 0);
  return measures + (hidden === 0 ? f : f * hidden + hidden);
}

/** float32 weights of the model, as shipped. */
export function deferWeightCount(widths: readonly number[], hidden: number): number {
  const f = featureCount(widths);
  return hidden === 0 ? f + 1 : f * hidden + hidden + hidden + 1;
}

/** Checks the shape of a parsed weights/defer.json; returns what is wrong, or undefined. */
export function deferralProblem(m: unknown): string | undefined {
  const d = m as Partial<DeferralModel>;
  if (!d || d.format !== "meanet-deferral") return "it is not a meanet deferral model (format)";
  if (!Array.isArray(d.exits) || !d.exits.length || !d.exits.every((x) => typeof x?.name === "string" && Number.isInteger(x?.k) && x.k > 0)) return "`exits` is not a list of exits with their widths";
  if (!Number.isInteger(d.hidden) || d.hidden! < 0) return "`hidden` is not a whole number";
  const f = featureCount(d.exits.map((x) => x.k));
  const h = d.hidden!;
  const want: [keyof DeferralModel, number][] = [
    ["w1", h === 0 ? f : f * h],
    ["b1", h === 0 ? 1 : h],
    ["w2", h],
    ["b2", h === 0 ? 0 : 1],
  ];
  for (const [key, n] of want) {
    const v = d[key];
    if (!Array.isArray(v) || v.length !== n || !v.every((x) => typeof x === "number" && Number.isFinite(x))) return `\`${key}\` should hold ${n} finite numbers`;
  }
  return undefined;
}
