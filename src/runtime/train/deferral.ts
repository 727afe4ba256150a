/**
 * The deferral stage: fits the learned deferral rule (format/defer.ts) on held-out images once the
 * blocks it reads are trained. For each image: the exits' probabilities (the features), the edge's
 * own answer (the routing rules with the cloud taken away), and the cloud's answer; the target is
 * "the cloud gains": the edge wrong and the cloud right. A one-hidden-layer MLP (or logistic
 * regression) is fitted by full-batch Adam on the cross-entropy, in double precision and a fixed
 * order, so the same seed gives the same weights. It is fitted on the first half of the held-out
 * split; `meanet eval` calibrates thresholds on `defer` on the other half, so the threshold is not
 * chosen on the images the model was fitted to.
 */
import { Codes, MeanetError } from "../../diagnostics/index.js";
import { routingThresholds, type Condition } from "../../format/conditions.js";
import { deferralRead, deferScore, exitOnEdge, featureCount, writeFeatures, type DeferralModel, type DeferralTraining } from "../../format/defer.js";
import { classIdsOf, exitView, type ExitInfo } from "../../format/exits.js";
import type { IrJson, TrainStage } from "../../format/ir.js";
import { argmax } from "../../format/measures.js";
import { decide, rulesFromManifest } from "../../format/rules.js";
import type { BlockModel } from "./builder.js";
import { subset, type Dataset } from "./data/dataset.js";
import { mulberry32 } from "./data/rng.js";
import { concatFloat32 } from "./flat.js";
import { inputTensor, predictExits } from "./forward.js";
import { tf } from "./tf.js";

/** Fewest held-out images the model is fitted on; fewer is MN5011. */
const MIN_IMAGES = 10;

/** The held-out rows the deferral model is fitted on: the first half. Calibration uses the rest. */
export function deferralRows(count: number): { from: number; to: number } {
  return { from: 0, to: Math.floor(count / 2) };
}

/** The deferral measure the rules read: its exits, and the cloud exit of the rule that reads it. */
function deferralReads(ir: IrJson): { exits: string[]; cloud: string } {
  const read = deferralRead(ir.routing);
  if (!read) throw new MeanetError(Codes.BadStage, "the spec has a deferral stage but no routing rule reads `defer(…)`");
  return { exits: read.exits, cloud: read.target };
}

/** Every exit's probabilities over `ds`, by exit name (n × k, softmax of the logits). */
function exitProbabilities(ir: IrJson, models: Map<string, BlockModel>, ds: Dataset, exits: string[]): Map<string, Float32Array> {
  const out = new Map(exits.map((e) => [e, [] as Float32Array[]]));
  const size = ds.height * ds.width * ds.channels;
  for (let s = 0; s < ds.count; s += 500) {
    const n = Math.min(500, ds.count - s);
    const x = inputTensor(ds.images.subarray(s * size, (s + n) * size), n, [ds.height, ds.width, ds.channels]);
    const logits = predictExits(ir, models, x, exits);
    logits.forEach((l, i) => {
      const p = tf.tidy(() => tf.softmax(l));
      out.get(exits[i]!)!.push(p.dataSync() as Float32Array);
      p.dispose();
      l.dispose();
    });
    x.dispose();
  }
  return new Map([...out].map(([e, parts]) => [e, concatFloat32(parts)]));
}

/** Features and targets of the fitting rows: does sending the input to the cloud gain? */
function examples(ir: IrJson, models: Map<string, BlockModel>, ds: Dataset, hard: number[]): { x: Float64Array; y: Float64Array; positives: number; widths: number[]; reads: { exits: string[]; cloud: string } } {
  const reads = deferralReads(ir);
  const hardSet = new Set(hard);
  const infos = new Map(
    ir.exits.map((x) => {
      const classIds = classIdsOf(ir.labels, x.classes, hard);
      return [x.name, { name: x.name, classes: x.classes, classIds, hard: classIds.map((c) => hardSet.has(c)), k: classIds.length } as ExitInfo];
    }),
  );
  const probs = exitProbabilities(ir, models, ds, ir.exits.map((x) => x.name));
  const cloudExits = new Set(ir.exits.filter((x) => !exitOnEdge(ir, x.name)).map((x) => x.name));
  // Thresholds calibrated later have no value yet: conditions on them do not hold here.
  const thresholds = routingThresholds(ir.routing as { when: Condition | null }[]).map((t) => (t.kind === "value" ? t.value : NaN));
  const rules = rulesFromManifest({ routing: ir.routing }, thresholds);
  const widths = reads.exits.map((e) => infos.get(e)!.k);
  const f = featureCount(widths);
  const x = new Float64Array(ds.count * f);
  const y = new Float64Array(ds.count);
  let positives = 0;
  const predicted = (exit: string, r: number) => {
    const info = infos.get(exit)!;
    return info.classIds[argmax(probs.get(exit)!, r * info.k, info.k)]!;
  };
  for (let r = 0; r < ds.count; r++) {
    const view = exitView((e) => ({ info: infos.get(e)!, data: probs.get(e)!, offset: r * infos.get(e)!.k }), hardSet, ir.labels);
    const edge = decide(rules, view, cloudExits);
    if (edge === undefined) throw new MeanetError(Codes.BadStage, "with the cloud taken away, no routing rule holds for a held-out image; end the route with an `otherwise` rule");
    const label = ds.labels[r]!;
    if (predicted(edge, r) !== label && predicted(reads.cloud, r) === label) {
      y[r] = 1;
      positives++;
    }
    writeFeatures(reads.exits.map((e, i) => ({ data: probs.get(e)!, offset: r * widths[i]!, k: widths[i]! })), x, r * f);
  }
  return { x, y, positives, widths, reads };
}

interface Params {
  w1: Float64Array;
  b1: Float64Array;
  w2: Float64Array;
  b2: Float64Array;
}

/** Mean and standard deviation of each feature column (a constant column keeps scale 1). */
function standardize(x: Float64Array, n: number, f: number): { mean: Float64Array; scale: Float64Array } {
  const mean = new Float64Array(f);
  const scale = new Float64Array(f);
  for (let r = 0; r < n; r++) for (let j = 0; j < f; j++) mean[j] += x[r * f + j]! / n;
  for (let r = 0; r < n; r++) for (let j = 0; j < f; j++) scale[j] += (x[r * f + j]! - mean[j]!) ** 2 / n;
  for (let j = 0; j < f; j++) scale[j] = Math.sqrt(scale[j]!) > 1e-8 ? Math.sqrt(scale[j]!) : 1;
  return { mean, scale };
}

/** Loss and gradient of the mean cross-entropy (plus L2 on the weights) over all rows. */
function lossAndGrad(p: Params, z: Float64Array, y: Float64Array, n: number, f: number, hidden: number, decay: number, g: Params): number {
  for (const k of ["w1", "b1", "w2", "b2"] as const) g[k].fill(0);
  const h = Math.max(hidden, 1);
  const act = new Float64Array(h);
  let loss = 0;
  for (let r = 0; r < n; r++) {
    const row = r * f;
    let logit: number;
    if (hidden === 0) {
      logit = p.b1[0]!;
      for (let j = 0; j < f; j++) logit += z[row + j]! * p.w1[j]!;
    } else {
      logit = p.b2[0]!;
      for (let u = 0; u < hidden; u++) {
        let a = p.b1[u]!;
        for (let j = 0; j < f; j++) a += z[row + j]! * p.w1[j * hidden + u]!;
        act[u] = a > 0 ? a : 0;
        logit += act[u]! * p.w2[u]!;
      }
    }
    // Cross-entropy of sigmoid(logit) against y, in a form that cannot overflow.
    loss += Math.max(logit, 0) - logit * y[r]! + Math.log1p(Math.exp(-Math.abs(logit)));
    const d = (1 / (1 + Math.exp(-logit)) - y[r]!) / n;
    if (hidden === 0) {
      g.b1[0] += d;
      for (let j = 0; j < f; j++) g.w1[j] += d * z[row + j]!;
      continue;
    }
    g.b2[0] += d;
    for (let u = 0; u < hidden; u++) {
      if (act[u]! <= 0) continue;
      g.w2[u] += d * act[u]!;
      const du = d * p.w2[u]!;
      g.b1[u] += du;
      for (let j = 0; j < f; j++) g.w1[j * hidden + u] += du * z[row + j]!;
    }
  }
  let l2 = 0;
  for (const k of ["w1", "w2"] as const) p[k].forEach((w, i) => ((l2 += w * w), (g[k][i] += decay * w)));
  return loss / n + (decay / 2) * l2;
}

/** Seeded Glorot-uniform weights, zero biases, and the output bias at the positives' log-odds. */
function initialParams(f: number, hidden: number, seed: number, positives: number, n: number): Params {
  const rng = mulberry32(seed ^ 0x5eed_defe);
  const uniform = (count: number, fanIn: number, fanOut: number) => Float64Array.from({ length: count }, () => (rng() * 2 - 1) * Math.sqrt(6 / (fanIn + fanOut)));
  const prior = Math.log((positives + 1) / (n - positives + 1));
  if (hidden === 0) return { w1: uniform(f, f, 1), b1: Float64Array.of(prior), w2: new Float64Array(0), b2: new Float64Array(0) };
  return { w1: uniform(f * hidden, f, hidden), b1: new Float64Array(hidden), w2: uniform(hidden, hidden, 1), b2: Float64Array.of(prior) };
}

/** Full-batch Adam for `epochs` steps; returns the last loss. */
function fit(p: Params, z: Float64Array, y: Float64Array, n: number, f: number, hidden: number, stage: TrainStage): number {
  const keys = ["w1", "b1", "w2", "b2"] as const;
  const g = Object.fromEntries(keys.map((k) => [k, new Float64Array(p[k].length)])) as unknown as Params;
  const m = Object.fromEntries(keys.map((k) => [k, new Float64Array(p[k].length)])) as unknown as Params;
  const v = Object.fromEntries(keys.map((k) => [k, new Float64Array(p[k].length)])) as unknown as Params;
  const { lr, weightDecay } = stage.optimizer;
  const [b1, b2, eps] = [0.9, 0.999, 1e-8];
  let loss = NaN;
  for (let t = 1; t <= stage.epochs; t++) {
    loss = lossAndGrad(p, z, y, n, f, hidden, weightDecay, g);
    for (const k of keys) {
      for (let i = 0; i < p[k].length; i++) {
        m[k][i] = b1 * m[k][i]! + (1 - b1) * g[k][i]!;
        v[k][i] = b2 * v[k][i]! + (1 - b2) * g[k][i]! ** 2;
        p[k][i] -= (lr * (m[k][i]! / (1 - b1 ** t))) / (Math.sqrt(v[k][i]! / (1 - b2 ** t)) + eps);
      }
    }
  }
  return loss;
}

/** The first layer with the feature scaling folded in, so the shipped model reads raw features. */
function folded(p: Params, mean: Float64Array, scale: Float64Array, f: number, hidden: number): { w1: number[]; b1: number[] } {
  const h = Math.max(hidden, 1);
  const w1 = Array.from(p.w1, (w, i) => w / scale[Math.floor(i / h)]!);
  const b1 = Array.from(p.b1, (b, u) => {
    let s = b;
    for (let j = 0; j < f; j++) s -= (mean[j]! / scale[j]!) * p.w1[j * h + u]!;
    return s;
  });
  return { w1, b1 };
}

/** What the model is fitted on: features (n × F, as writeFeatures writes them), targets in [0, 1], and which exits of what width. */
export interface DeferralExamples {
  x: Float64Array;
  y: Float64Array;
  positives: number;
  exits: { name: string; k: number }[];
}

/**
 * Fits the model of a deferral stage to examples: standardized features, seeded initial weights,
 * full-batch Adam, then the scaling folded into the first layer. `scores` are the fitted model's
 * outputs on the examples as training computed them (in the standardized space).
 */
export function fitDeferral(ex: DeferralExamples, stage: TrainStage, seed: number, rows: DeferralTraining["rows"]): { model: DeferralModel; scores: Float64Array } {
  const widths = ex.exits.map((x) => x.k);
  const f = featureCount(widths);
  const n = ex.y.length;
  const hidden = stage.defer!.hidden;
  const { mean, scale } = standardize(ex.x, n, f);
  const z = Float64Array.from(ex.x, (v, i) => (v - mean[i % f]!) / scale[i % f]!);
  const p = initialParams(f, hidden, seed ^ stage.seed, ex.y.reduce((s, v) => s + v, 0), n);
  const finalLoss = fit(p, z, ex.y, n, f, hidden, stage);
  const scores = Float64Array.from({ length: n }, (_, r) => deferScore({ hidden, w1: [...p.w1], b1: [...p.b1], w2: [...p.w2], b2: [...p.b2] }, z.subarray(r * f, (r + 1) * f)));
  const { w1, b1 } = folded(p, mean, scale, f, hidden);
  return {
    model: {
      format: "meanet-deferral",
      exits: ex.exits,
      hidden,
      w1,
      b1,
      w2: [...p.w2],
      b2: [...p.b2],
      training: { stage: stage.name, seed: seed ^ stage.seed, epochs: stage.epochs, samples: n, positives: ex.positives, rows, finalLoss: Number(finalLoss.toFixed(6)) },
    },
    scores,
  };
}

/** Trains the deferral model of a deferral stage on the first half of the held-out images. */
export function trainDeferral(ir: IrJson, models: Map<string, BlockModel>, validation: Dataset, hard: number[], stage: TrainStage, seed: number): DeferralModel {
  const rows = deferralRows(validation.count);
  const n = rows.to - rows.from;
  if (n < MIN_IMAGES) {
    throw new MeanetError(Codes.DataMissing, `the deferral stage \`${stage.name}\` is fitted on the first half of the held-out images: ${n} of ${validation.count}, and it needs at least ${MIN_IMAGES}; hold out more (\`validation\` in \`train\`) or train on more images`);
  }
  const ds = subset(validation, Uint32Array.from({ length: n }, (_, i) => rows.from + i));
  const { x, y, positives, widths, reads } = examples(ir, models, ds, hard);
  return fitDeferral({ x, y, positives, exits: reads.exits.map((name, i) => ({ name, k: widths[i]! })) }, stage, seed, { ...rows, of: validation.count }).model;
}
