import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { IrJson, IrJsonExit } from "../../format/ir.js";
import { blockSignature } from "../../format/signature.js";
import type { TrainStage } from "../../format/ir.js";
import { Codes, MeanetError } from "../../diagnostics/index.js";
import { buildBlockModel, type BlockModel } from "./builder.js";
import { exitLabelMap, lowestAccuracy } from "./classes.js";
import { randomCropFlip } from "./data/augment.js";
import { splitValidation, subset, type Dataset } from "./data/dataset.js";
import { mulberry32, permutation } from "./data/rng.js";
import { blocksFor, inputTensor, predictExits, runBlocks } from "./forward.js";
import { setDropoutStep } from "./layers.js";
import type { Progress } from "./progress.js";
import { learningRate, makeOptimizer } from "./schedule.js";
import { tf, type Tensor } from "./tf.js";
import { restoreWeights, saveModel } from "./weights.js";

export interface StageReport {
  name: string;
  epochs: number;
  samples: number;
  seconds: number;
  samplesPerSecond: number;
  finalLoss: number;
}

export interface TrainReport {
  backend: string;
  seed: number;
  data: { source: string; train: number; validation: number; test: number };
  stages: StageReport[];
  exits: { name: string; classes: string; accuracy: number; samples: number }[];
  /** Accuracy of the main (ranking) exit on held-out validation data, per class, which picks the hard classes. */
  perClassAccuracy: { exit: string; values: number[] } | null;
  hardClasses: { ids: number[]; labels: string[] };
  /** Main and extension on the test samples of hard classes: the extension should win. */
  hardClassComparison: { samples: number; exits: Record<string, number> } | null;
  /** Architecture fingerprint of each block the weights were trained for (see blockSignature). */
  blocks: Record<string, string>;
  seconds: number;
}

export interface TrainOptions {
  ir: IrJson;
  irText: string;
  train: Dataset;
  test: Dataset;
  dataSource: string;
  outDir: string;
  backend: string;
  epochs?: number;
  seed?: number;
  progress: Progress;
  /** Stop after this many epochs in total (tests of resumption). */
  stopAfterEpochs?: number;
}

interface CheckpointState {
  format: "meanet-checkpoint";
  version: 1;
  fingerprint: string;
  stage: number;
  epochsDone: number;
  globalStep: number;
  hardClasses: number[] | null;
  perClassAccuracy: number[] | null;
  stages: StageReport[];
  current: { samples: number; seconds: number; loss: number };
}

const EVAL_BATCH = 500;

/** The stage-wise MEANet recipe (or the joint alternative), resumable from the last finished epoch. */
export async function trainModel(o: TrainOptions): Promise<TrainReport> {
  const started = performance.now();
  const { ir } = o;
  const plan = ir.training;
  const seed = o.seed ?? plan.seed;
  const fingerprint = createHash("sha256").update(JSON.stringify([o.irText, seed, o.epochs ?? null, o.train.count, o.test.count])).digest("hex");
  const models = new Map<string, BlockModel>();
  for (const b of ir.blocks) models.set(b.name, buildBlockModel(ir, b, seed));

  const { train, validation } = splitValidation(o.train, plan.validationSplit, seed);
  const rankingExit = ir.hardClasses.kind === "lowest_accuracy" ? ir.hardClasses.exit! : undefined;
  let hard: number[] | null = ir.hardClasses.kind === "labels" ? ir.hardClasses.labels!.map((l) => ir.labels.indexOf(l)) : null;
  let perClass: number[] | null = null;

  const ckptDir = join(o.outDir, "checkpoint");
  let state: CheckpointState = { format: "meanet-checkpoint", version: 1, fingerprint, stage: 0, epochsDone: 0, globalStep: 0, hardClasses: hard, perClassAccuracy: null, stages: [], current: { samples: 0, seconds: 0, loss: NaN } };
  const resumed = await loadCheckpoint(ckptDir, fingerprint, models, o.progress);
  if (resumed) {
    state = resumed.state;
    hard = state.hardClasses;
    perClass = state.perClassAccuracy;
    o.progress.info(`resuming from checkpoint: stage ${plan.stages[state.stage]?.name ?? "(done)"}, epoch ${state.epochsDone}`);
  }

  let epochsThisRun = 0;
  for (let si = state.stage; si < plan.stages.length; si++) {
    const stage = plan.stages[si]!;
    const epochs = o.epochs ?? stage.epochs;
    const exits = stageExits(ir, stage);
    if (exits.length === 0) throw new Error(`stage \`${stage.name}\` trains no block with an exit`);
    if (needsHard(stage, exits) && !hard) throw new Error(`stage \`${stage.name}\` needs the hard classes, but no earlier stage trained exit \`${rankingExit}\` to rank them`);
    const data = stageData(train, stage, hard ?? [], ir.labels.length);
    const opt = makeOptimizer(stage.optimizer);
    if (resumed && si === state.stage && state.epochsDone > 0) await restoreOptimizer(ckptDir, opt.optimizer);
    const trained = new Set(stage.train);
    const needed = blocksFor(ir, exits.map((e) => e.name));
    const frozenFirst = leadingFrozen(ir, needed, trained);
    const inTape = needed.filter((b) => !frozenFirst.includes(b));
    const vars = [...trained].flatMap((b) => models.get(b)!.model.trainableWeights.map((w) => w.read() as tf.Variable));
    const kernels = vars.filter((v) => /kernel|depthwise/.test(v.name));
    const labelMaps = exits.map((e) => exitLabelMap(ir, e, hard ?? []));
    const weights = exits.map((e) => stage.lossWeights?.[e.name] ?? 1);

    for (let epoch = si === state.stage ? state.epochsDone : 0; epoch < epochs; epoch++) {
      if (o.stopAfterEpochs !== undefined && epochsThisRun >= o.stopAfterEpochs) return interrupted();
      opt.setLearningRate(learningRate(stage.optimizer.lr, stage.schedule, epoch, epochs));
      const order = permutation(data.count, mulberry32(hashSeed(stage.seed ^ seed, si, epoch)));
      const augmentRng = mulberry32(hashSeed(stage.seed ^ seed, si, epoch) ^ 0xa5a5a5a5);
      const batches = Math.ceil(data.count / stage.batch);
      o.progress.epochStart(stage.name, epoch + 1, epochs, batches);
      const t0 = performance.now();
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      for (let b = 0; b < batches; b++) {
        const idx = order.subarray(b * stage.batch, Math.min(data.count, (b + 1) * stage.batch));
        const batch = subset(data, idx);
        const images = stage.augment === "crop_flip" ? randomCropFlip({ images: batch.images, count: batch.count, height: batch.height, width: batch.width, channels: batch.channels }, 4, augmentRng).images : batch.images;
        setDropoutStep(state.globalStep++);
        const { loss, hits } = tf.tidy(() => {
          const x = inputTensor(images as Uint8Array, batch.count, ir.input.shape);
          const values = new Map<number, Tensor>([[ir.input.tensor, x]]);
          runBlocks(ir, models, frozenFirst, values, () => false);
          let hitsT: Tensor | undefined;
          const lossT = opt.optimizer.minimize(
            () => {
              const v = new Map(values);
              runBlocks(ir, models, inTape, v, (name) => trained.has(name));
              let total: Tensor = tf.scalar(0);
              exits.forEach((e, k) => {
                const logits = v.get(e.tensor)!;
                const { loss: l, correct: c } = exitLoss(logits, batch.labels, labelMaps[k]!);
                total = tf.add(total, tf.mul(l, weights[k]!));
                if (k === 0) hitsT = tf.keep(c);
              });
              if (opt.weightDecay > 0) total = tf.add(total, tf.mul(0.5 * opt.weightDecay, tf.addN(kernels.map((w) => tf.sum(tf.square(w))))));
              return total as tf.Scalar;
            },
            true,
            vars,
          )!;
          return { loss: lossT, hits: hitsT! };
        });
        const [lv, hv] = [(await loss.data())[0]!, (await hits.data())[0]!];
        loss.dispose();
        hits.dispose();
        lossSum += lv * batch.count;
        correct += hv;
        seen += batch.count;
        o.progress.batch(b + 1, lossSum / seen, correct / seen, seen / ((performance.now() - t0) / 1000));
      }
      const seconds = (performance.now() - t0) / 1000;
      state.current.samples += seen;
      state.current.seconds += seconds;
      state.current.loss = lossSum / seen;
      state.epochsDone = epoch + 1;
      state.stage = si;
      epochsThisRun++;
      o.progress.epochEnd(`${stage.name} epoch ${epoch + 1}/${epochs}: loss ${(lossSum / seen).toFixed(4)}, train accuracy ${(correct / seen).toFixed(4)}, ${(seen / seconds).toFixed(0)} samples/s`);
      if (epoch + 1 === epochs) {
        state.stages.push({ name: stage.name, epochs, samples: state.current.samples, seconds: round(state.current.seconds), samplesPerSecond: round(state.current.samples / state.current.seconds), finalLoss: round(state.current.loss) });
        state.current = { samples: 0, seconds: 0, loss: NaN };
        state.stage = si + 1;
        state.epochsDone = 0;
        // Step 2 of the recipe: once the ranking exit is trained, its per-class validation accuracy picks the hard classes.
        if (!hard && rankingExit && trained.has(ir.exits.find((x) => x.name === rankingExit)!.block)) {
          perClass = perClassAccuracy(ir, models, validation, rankingExit);
          hard = lowestAccuracy(perClass, ir.hardClasses.count);
          o.progress.info(`hard classes (lowest validation accuracy of \`${rankingExit}\`): ${hard.map((c) => ir.labels[c]).join(", ")}`);
        }
        state.hardClasses = hard;
        state.perClassAccuracy = perClass;
      }
      await saveCheckpoint(ckptDir, state, models, state.epochsDone > 0 ? opt.optimizer : undefined);
    }
    opt.optimizer.dispose();
  }

  if (!hard) {
    // No stage trained the ranking exit (e.g. a cloud-only schedule): rank with the model as it is.
    perClass = perClassAccuracy(ir, models, validation, rankingExit ?? ir.exits[0]!.name);
    hard = lowestAccuracy(perClass, ir.hardClasses.count);
  }
  for (const [name, bm] of models) await saveModel(bm.model, join(o.outDir, "weights", name));

  const exitsReport = ir.exits.map((e) => {
    const r = exitAccuracy(ir, models, o.test, e, hard!);
    return { name: e.name, classes: e.classes.kind, accuracy: round(r.accuracy), samples: r.samples };
  });
  const comparison = hardComparison(ir, models, o.test, hard);
  const report: TrainReport = {
    backend: o.backend,
    seed,
    data: { source: o.dataSource, train: train.count, validation: validation.count, test: o.test.count },
    stages: state.stages,
    exits: exitsReport,
    perClassAccuracy: perClass && rankingExit ? { exit: rankingExit, values: perClass.map(round) } : null,
    hardClasses: { ids: hard, labels: hard.map((c) => ir.labels[c]!) },
    hardClassComparison: comparison,
    blocks: Object.fromEntries(ir.blocks.map((b) => [b.name, blockSignature(ir, b.name)])),
    seconds: round((performance.now() - started) / 1000),
  };
  for (const bm of models.values()) bm.model.dispose();
  return report;

  function interrupted(): never {
    for (const bm of models.values()) bm.model.dispose();
    throw new TrainingInterrupted();
  }
}

/** Training stopped after the epochs it was asked to stop after; its checkpoint is kept, so a new run resumes. */
export class TrainingInterrupted extends MeanetError {
  constructor() {
    super(Codes.TrainingStopped, "training stopped early as requested; run again to resume");
  }
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

function hashSeed(a: number, b: number, c: number): number {
  let h = (a ^ 0x811c9dc5) >>> 0;
  for (const v of [b, c]) h = Math.imul(h ^ v, 0x01000193) >>> 0;
  return h;
}

/** The exits a stage optimises: joint stages name them with weights; stage-wise ones take the trained blocks' exits. */
function stageExits(ir: IrJson, stage: TrainStage): IrJsonExit[] {
  if (stage.lossWeights) return ir.exits.filter((e) => stage.lossWeights![e.name] !== undefined);
  return ir.exits.filter((e) => stage.train.includes(e.block));
}

function needsHard(stage: TrainStage, exits: IrJsonExit[]): boolean {
  return stage.data !== "all" || exits.some((e) => e.classes.kind === "hard" || e.classes.kind === "easy");
}

function stageData(train: Dataset, stage: TrainStage, hard: number[], classes: number): Dataset {
  if (stage.data === "all") return train;
  const keep = new Set(stage.data === "hard" ? hard : [...Array(classes).keys()].filter((c) => !hard.includes(c)));
  const idx: number[] = [];
  for (let i = 0; i < train.count; i++) if (keep.has(train.labels[i]!)) idx.push(i);
  return subset(train, idx);
}

/** Frozen blocks that depend only on frozen blocks: run once per batch outside the gradient tape. */
function leadingFrozen(ir: IrJson, needed: string[], trained: Set<string>): string[] {
  const out: string[] = [];
  for (const name of needed) {
    const block = ir.blocks.find((b) => b.name === name)!;
    if (!trained.has(name) && block.reads.every((r) => out.includes(r.from))) out.push(name);
  }
  return out;
}

/** Cross-entropy over the samples an exit covers (labels mapped to its classes), and its count of hits. */
function exitLoss(logits: Tensor, labels: Int32Array, map: Int32Array): { loss: Tensor; correct: Tensor } {
  const k = logits.shape[1]!;
  const mapped = Int32Array.from(labels, (l) => map[l]!);
  const mask = tf.tensor1d(Float32Array.from(mapped, (m) => (m >= 0 ? 1 : 0)));
  const target = tf.oneHot(tf.tensor1d(Int32Array.from(mapped, (m) => Math.max(0, m)), "int32"), k);
  const n = tf.maximum(tf.sum(mask), 1);
  const perSample = tf.losses.softmaxCrossEntropy(target, logits, undefined, undefined, tf.Reduction.NONE);
  const loss = tf.div(tf.sum(tf.mul(perSample, mask)), n);
  const hit = tf.mul(tf.cast(tf.equal(tf.argMax(logits, 1), tf.argMax(target, 1)), "float32"), mask);
  return { loss, correct: tf.sum(hit) };
}

/** Predicted class index (within the exit's classes) for every sample. */
function predict(ir: IrJson, models: Map<string, BlockModel>, ds: Dataset, exits: string[]): Int32Array[] {
  const out = exits.map(() => new Int32Array(ds.count));
  for (let s = 0; s < ds.count; s += EVAL_BATCH) {
    const n = Math.min(EVAL_BATCH, ds.count - s);
    const size = ds.height * ds.width * ds.channels;
    const x = inputTensor(ds.images.subarray(s * size, (s + n) * size), n, [ds.height, ds.width, ds.channels]);
    const logits = predictExits(ir, models, x, exits);
    logits.forEach((l, k) => {
      const am = tf.tidy(() => tf.argMax(l, 1));
      out[k]!.set(am.dataSync() as Int32Array, s);
      am.dispose();
      l.dispose();
    });
    x.dispose();
  }
  return out;
}

export function perClassAccuracy(ir: IrJson, models: Map<string, BlockModel>, ds: Dataset, exit: string): number[] {
  const e = ir.exits.find((x) => x.name === exit)!;
  const map = exitLabelMap(ir, e, []);
  const [pred] = predict(ir, models, ds, [exit]);
  const hits = new Array<number>(ir.labels.length).fill(0);
  const counts = new Array<number>(ir.labels.length).fill(0);
  for (let i = 0; i < ds.count; i++) {
    const l = ds.labels[i]!;
    counts[l]!++;
    if (pred![i] === map[l]) hits[l]!++;
  }
  return hits.map((h, c) => (counts[c] ? h / counts[c]! : 0));
}

function exitAccuracy(ir: IrJson, models: Map<string, BlockModel>, ds: Dataset, exit: IrJsonExit, hard: number[]): { accuracy: number; samples: number } {
  const map = exitLabelMap(ir, exit, hard);
  const idx: number[] = [];
  for (let i = 0; i < ds.count; i++) if (map[ds.labels[i]!]! >= 0) idx.push(i);
  const sub = subset(ds, idx);
  const [pred] = predict(ir, models, sub, [exit.name]);
  let hits = 0;
  for (let i = 0; i < sub.count; i++) if (pred![i] === map[sub.labels[i]!]) hits++;
  return { accuracy: sub.count ? hits / sub.count : 0, samples: sub.count };
}

/** Every exit that can answer hard classes, scored on the test samples of hard classes (as hard-class labels). */
function hardComparison(ir: IrJson, models: Map<string, BlockModel>, ds: Dataset, hard: number[]): TrainReport["hardClassComparison"] {
  const candidates = ir.exits.filter((e) => hard.every((c) => exitLabelMap(ir, e, hard)[c]! >= 0));
  if (candidates.length < 2) return null;
  const idx: number[] = [];
  for (let i = 0; i < ds.count; i++) if (hard.includes(ds.labels[i]!)) idx.push(i);
  const sub = subset(ds, idx);
  const preds = predict(ir, models, sub, candidates.map((e) => e.name));
  const exits: Record<string, number> = {};
  candidates.forEach((e, k) => {
    const map = exitLabelMap(ir, e, hard);
    let hits = 0;
    for (let i = 0; i < sub.count; i++) if (preds[k]![i] === map[sub.labels[i]!]) hits++;
    exits[e.name] = round(sub.count ? hits / sub.count : 0);
  });
  return { samples: sub.count, exits };
}

async function saveCheckpoint(dir: string, state: CheckpointState, models: Map<string, BlockModel>, optimizer: tf.Optimizer | undefined): Promise<void> {
  const next = `${dir}.next`;
  rmSync(next, { recursive: true, force: true });
  mkdirSync(next, { recursive: true });
  for (const [name, bm] of models) await saveModel(bm.model, join(next, "blocks", name));
  if (optimizer) {
    const named = [...(await optimizer.getWeights()), ...exactState(optimizer).map(([name, v]) => ({ name, tensor: v }))];
    const specs: { name: string; shape: number[] }[] = [];
    const chunks: Float32Array[] = [];
    for (const { name, tensor } of named) {
      specs.push({ name, shape: tensor.shape });
      chunks.push((await tensor.data()) as Float32Array);
    }
    const total = chunks.reduce((s, c) => s + c.length, 0);
    const buf = new Float32Array(total);
    let off = 0;
    for (const c of chunks) {
      buf.set(c, off);
      off += c.length;
    }
    writeFileSync(join(next, "optimizer.json"), JSON.stringify(specs));
    writeFileSync(join(next, "optimizer.bin"), new Uint8Array(buf.buffer));
  }
  writeFileSync(join(next, "state.json"), JSON.stringify(state, null, 1));
  // Swap in the new checkpoint; a crash in between leaves `.old`, which loading falls back to.
  const old = `${dir}.old`;
  rmSync(old, { recursive: true, force: true });
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(next, dir);
  rmSync(old, { recursive: true, force: true });
}

async function loadCheckpoint(dir: string, fingerprint: string, models: Map<string, BlockModel>, progress: Progress): Promise<{ state: CheckpointState } | undefined> {
  const use = existsSync(join(dir, "state.json")) ? dir : existsSync(join(`${dir}.old`, "state.json")) ? `${dir}.old` : undefined;
  if (!use) return undefined;
  let state: CheckpointState;
  try {
    state = JSON.parse(readFileSync(join(use, "state.json"), "utf8")) as CheckpointState;
  } catch {
    progress.info(`ignoring an unreadable checkpoint in ${use}; training from the start`);
    return undefined;
  }
  if (state.fingerprint !== fingerprint) {
    progress.info(`ignoring the checkpoint in ${use}: it is of another spec, seed, epoch count or data; training from the start`);
    return undefined;
  }
  for (const [name, bm] of models) await restoreWeights(bm.model, join(use, "blocks", name));
  return { state };
}

async function restoreOptimizer(dir: string, optimizer: tf.Optimizer): Promise<void> {
  const specsPath = join(dir, "optimizer.json");
  if (!existsSync(specsPath)) return;
  const specs = JSON.parse(readFileSync(specsPath, "utf8")) as { name: string; shape: number[] }[];
  const raw = readFileSync(join(dir, "optimizer.bin"));
  const all = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  let off = 0;
  const named = specs.map((s) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const tensor = tf.tensor(all.subarray(off, off + n), s.shape);
    off += n;
    return { name: s.name, tensor };
  });
  const exact = new Map(exactState(optimizer));
  await optimizer.setWeights(named.filter((n) => !exact.has(n.name)));
  // tfjs recomputes Adam's β powers as pow(β, t+1) on restore; the running products differ in the last bits, so restore those exactly.
  for (const n of named) exact.get(n.name)?.assign(n.tensor as tf.Scalar);
}

/** Optimizer state tfjs' getWeights leaves out: Adam's running products of β1 and β2. */
function exactState(optimizer: tf.Optimizer): [string, tf.Variable][] {
  const o = optimizer as unknown as { accBeta1?: tf.Variable; accBeta2?: tf.Variable };
  return o.accBeta1 && o.accBeta2 ? [["meanet/adam/accBeta1", o.accBeta1], ["meanet/adam/accBeta2", o.accBeta2]] : [];
}

