/**
 * One optimizer step of a stage: on one thread, the whole batch under one gradient tape; in a
 * data-parallel run, rank 0's weights copied to every replica, each replica's shard under its own
 * tape, the gradients summed at rank 0 (in rank order), and rank 0's optimizer applied.
 */
import type { IrJson } from "../../format/ir.js";
import type { BlockModel } from "./builder.js";
import { concatFloat32 } from "./flat.js";
import { inputTensor, runBlocks } from "./forward.js";
import type { Collective } from "./parallel/collective.js";
import type { StageGraph } from "./stage.js";
import { tf, type Tensor } from "./tf.js";

/** The images one step (or one replica's share of a step) trains on. */
export interface StepBatch {
  images: Uint8Array;
  labels: Int32Array;
  count: number;
  /** Per exit, the samples of the whole batch in the exit's classes (at least 1): each exit's loss is a mean over them. */
  denominators: number[];
  /** Whether this share's loss carries the weight-decay term (exactly one share of a batch does). */
  decay: boolean;
}

/** Per exit, the samples of `labels` in the exit's classes, at least 1. */
export function lossDenominators(graph: StageGraph, labels: Int32Array): number[] {
  return graph.labelMaps.map((map) => {
    let n = 0;
    for (const l of labels) if (map[l]! >= 0) n++;
    return Math.max(n, 1);
  });
}

/** The stage's loss on a batch, to run under a gradient tape; `onHits` receives the first exit's hits (kept out of the tape's tidy). */
function stageLoss(ir: IrJson, models: Map<string, BlockModel>, graph: StageGraph, weightDecay: number, batch: StepBatch, onHits: (t: Tensor) => void): () => tf.Scalar {
  const { exits, trained, kernels, labelMaps, weights } = graph;
  const x = inputTensor(batch.images, batch.count, ir.input.shape);
  const values = new Map<number, Tensor>([[ir.input.tensor, x]]);
  runBlocks(ir, models, graph.frozenFirst, values, () => false);
  return () => {
    const v = new Map(values);
    runBlocks(ir, models, graph.inTape, v, (name) => trained.has(name));
    let total: Tensor = tf.scalar(0);
    exits.forEach((e, k) => {
      const { loss, correct } = exitLoss(v.get(e.tensor)!, batch.labels, labelMaps[k]!, batch.denominators[k]!);
      total = tf.add(total, tf.mul(loss, weights[k]!));
      if (k === 0) onHits(tf.keep(correct));
    });
    if (batch.decay && weightDecay > 0) total = tf.add(total, tf.mul(0.5 * weightDecay, tf.addN(kernels.map((w) => tf.sum(tf.square(w))))));
    return total as tf.Scalar;
  };
}

/** One optimizer step on the whole batch, on this thread: the summed loss (plus weight decay) and the first exit's hits. */
export function trainStep(ir: IrJson, models: Map<string, BlockModel>, graph: StageGraph, optimizer: tf.Optimizer, weightDecay: number, batch: StepBatch): { loss: number; hits: number } {
  let hits: Tensor | undefined;
  const loss = tf.tidy(() => optimizer.minimize(stageLoss(ir, models, graph, weightDecay, batch, (h) => (hits = h)), true, graph.vars)!);
  const out = { loss: loss.dataSync()[0]!, hits: hits!.dataSync()[0]! };
  loss.dispose();
  hits!.dispose();
  return out;
}

/**
 * This replica's share of a data-parallel step. Every replica calls it with its shard, in step;
 * rank 0 passes its optimizer. Returns the whole batch's loss and hits at rank 0 (zeros elsewhere).
 * The next exchange after it must be the next step's weight broadcast, which rank 0 starts only
 * once it has read the gradients.
 */
export function replicaStep(
  ir: IrJson,
  models: Map<string, BlockModel>,
  graph: StageGraph,
  collective: Collective,
  optimizer: tf.Optimizer | undefined,
  weightDecay: number,
  batch: StepBatch,
): { loss: number; hits: number } {
  const { vars } = graph;
  // Every replica starts from rank 0's weights (rank 0 may have stepped alone on a batch too small to share).
  const size = vars.reduce((s, v) => s + v.size, 0);
  const weights = collective.broadcast(size, (into) => {
    let at = 0;
    for (const v of vars) {
      into.set(v.dataSync() as Float32Array, at);
      at += v.size;
    }
  });
  if (collective.rank !== 0) assignFlat(vars, weights);
  let hits: Tensor | undefined;
  // This shard's gradients, its share of the loss and its hits, as one vector: [grads…, loss, hits].
  const local = tf.tidy(() => {
    const { value, grads } = tf.variableGrads(stageLoss(ir, models, graph, weightDecay, batch, (h) => (hits = h)), vars);
    const flat = concatFloat32(vars.map((v) => grads[v.name]!.dataSync() as Float32Array), 2);
    flat[size] = value.dataSync()[0]!;
    flat[size + 1] = hits!.dataSync()[0]!;
    return flat;
  });
  hits?.dispose();
  const summed = collective.reduceToRoot(local);
  if (summed) {
    tf.tidy(() => {
      let at = 0;
      const named = vars.map((v) => {
        const tensor = tf.tensor(summed.subarray(at, at + v.size), v.shape, "float32");
        at += v.size;
        return { name: v.name, tensor };
      });
      optimizer!.applyGradients(named);
    });
  }
  return summed ? { loss: summed[size]!, hits: summed[size + 1]! } : { loss: 0, hits: 0 };
}

/** Writes consecutive runs of `flat` into `vars`, in order. */
export function assignFlat(vars: tf.Variable[], flat: Float32Array): void {
  tf.tidy(() => {
    let at = 0;
    for (const v of vars) {
      v.assign(tf.tensor(flat.subarray(at, at + v.size), v.shape, "float32"));
      at += v.size;
    }
  });
}

/** Cross-entropy over the samples an exit covers (labels mapped to its classes), over `denominator` samples, and its count of hits. */
function exitLoss(logits: Tensor, labels: Int32Array, map: Int32Array, denominator: number): { loss: Tensor; correct: Tensor } {
  const k = logits.shape[1]!;
  const mapped = Int32Array.from(labels, (l) => map[l]!);
  const mask = tf.tensor1d(Float32Array.from(mapped, (m) => (m >= 0 ? 1 : 0)));
  const target = tf.oneHot(tf.tensor1d(Int32Array.from(mapped, (m) => Math.max(0, m)), "int32"), k);
  const perSample = tf.losses.softmaxCrossEntropy(target, logits, undefined, undefined, tf.Reduction.NONE);
  const loss = tf.div(tf.sum(tf.mul(perSample, mask)), denominator);
  const hit = tf.mul(tf.cast(tf.equal(tf.argMax(logits, 1), tf.argMax(target, 1)), "float32"), mask);
  return { loss, correct: tf.sum(hit) };
}
