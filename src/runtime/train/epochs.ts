/** The epoch loop of one stage: shuffled batches, one optimizer step each, a checkpoint after every epoch. */
import type { IrJson } from "../../format/ir.js";
import type { BlockModel } from "./builder.js";
import { restoreOptimizer, saveCheckpoint, type CheckpointState } from "./checkpoint.js";
import { randomCropFlip } from "./data/augment.js";
import { subset, type Dataset } from "./data/dataset.js";
import { mulberry32, permutation } from "./data/rng.js";
import { setDropoutStep } from "./layers.js";
import type { Progress } from "./progress.js";
import { exitAccuracy, round } from "./report.js";
import { timeLeftText } from "./eta.js";
import { learningRate, makeOptimizer, type StageOptimizer } from "./schedule.js";
import type { StagePlan } from "./stage.js";
import { lossDenominators, trainStep, type StepBatch } from "./step.js";
import type { ReplicaGroup } from "./parallel/pool.js";

/** What the stages of one training run share. `state` is the checkpoint's, updated as epochs finish. */
export interface TrainingRun {
  ir: IrJson;
  models: Map<string, BlockModel>;
  seed: number;
  state: CheckpointState;
  checkpointDir: string;
  progress: Progress;
  /** Stop after this many epochs of this run (tests of resumption). */
  stopAfterEpochs: number | undefined;
  epochsThisRun: number;
  /** Called once a stage's last epoch is done, before the checkpoint that records it. */
  stageFinished(plan: StagePlan): void;
  /** The held-out images each epoch's validation accuracy is measured on. */
  validation: Dataset;
  /** The worker threads sharing each step with this one (data-parallel), if any. */
  replicas: ReplicaGroup | undefined;
  /** The training images of an epoch on all classes, and the epochs stage `index` runs: for the estimate of the time left. */
  trainImages: number;
  epochsOf(index: number): number;
}

/** Sums over one epoch's batches. */
interface EpochTotals {
  seen: number;
  lossSum: number;
  correct: number;
  seconds: number;
}

/**
 * Trains a stage from its first unfinished epoch to its last, saving a checkpoint after each.
 * "stopped" when the run has trained the epochs it was asked to stop after (the checkpoint is kept).
 */
export async function trainStage(run: TrainingRun, plan: StagePlan): Promise<"done" | "stopped"> {
  const { state } = run;
  const opt = makeOptimizer(plan.stage.optimizer);
  try {
    const first = plan.index === state.stage ? state.epochsDone : 0;
    // A stage under way when the checkpoint was saved: its optimizer resumes too.
    if (first > 0) await restoreOptimizer(run.checkpointDir, opt.optimizer);
    run.replicas?.startStage(plan, run.state.hardClasses ?? [], run.models);
    for (let epoch = first; epoch < plan.epochs; epoch++) {
      if (run.stopAfterEpochs !== undefined && run.epochsThisRun >= run.stopAfterEpochs) return "stopped";
      const t = await trainEpoch(run, plan, opt, epoch);
      state.current.samples += t.seen;
      state.current.seconds += t.seconds;
      state.current.loss = t.lossSum / t.seen;
      state.epochsDone = epoch + 1;
      state.stage = plan.index;
      run.epochsThisRun++;
      run.progress.epochEnd(epochLine(run, plan, t));
      if (epoch + 1 === plan.epochs) finishStage(run, plan);
      await saveCheckpoint(run.checkpointDir, state, run.models, state.epochsDone > 0 ? opt.optimizer : undefined);
    }
    return "done";
  } finally {
    opt.optimizer.dispose();
  }
}

/**
 * The line an epoch ends with: loss and accuracy on the stage's first exit on its training images
 * and on the held-out validation images of its classes, the speed, and the time left.
 */
function epochLine(run: TrainingRun, plan: StagePlan, t: EpochTotals): string {
  const { state, ir } = run;
  const parts = [`loss ${(t.lossSum / t.seen).toFixed(4)}`, `train accuracy ${(t.correct / t.seen).toFixed(4)}`];
  const validation = exitAccuracy(ir, run.models, run.validation, plan.exits[0]!, state.hardClasses ?? []);
  if (validation.samples > 0) parts.push(`validation ${validation.accuracy.toFixed(4)}`);
  parts.push(`${(t.seen / t.seconds).toFixed(0)} samples/s`);
  const left = timeLeftText(ir, { stage: plan.index, epochsDone: state.epochsDone, epochs: plan.epochs, seconds: state.current.seconds, samples: state.current.samples, trainImages: run.trainImages, epochsOf: run.epochsOf });
  if (left) parts.push(left);
  return `${plan.stage.name} epoch ${state.epochsDone}/${plan.epochs}: ${parts.join(", ")}`;
}

/** Records the stage's report and moves the state on to the next stage. */
function finishStage(run: TrainingRun, plan: StagePlan): void {
  const { state } = run;
  const c = state.current;
  state.stages.push({ name: plan.stage.name, epochs: plan.epochs, samples: c.samples, seconds: round(c.seconds), samplesPerSecond: round(c.samples / c.seconds), finalLoss: round(c.loss) });
  state.current = { samples: 0, seconds: 0, loss: NaN };
  state.stage = plan.index + 1;
  state.epochsDone = 0;
  run.stageFinished(plan);
}

/** One pass over the stage's data in a seeded order, with the epoch's learning rate. */
async function trainEpoch(run: TrainingRun, plan: StagePlan, opt: StageOptimizer, epoch: number): Promise<EpochTotals> {
  const { stage, data, index: si, epochs } = plan;
  opt.setLearningRate(learningRate(stage.optimizer.lr, stage.schedule, epoch, epochs));
  const order = permutation(data.count, mulberry32(hashSeed(stage.seed ^ run.seed, si, epoch)));
  const augmentRng = mulberry32(hashSeed(stage.seed ^ run.seed, si, epoch) ^ 0xa5a5a5a5);
  const batches = Math.ceil(data.count / stage.batch);
  run.progress.epochStart(stage.name, epoch + 1, epochs, batches);
  const t0 = performance.now();
  const t: EpochTotals = { seen: 0, lossSum: 0, correct: 0, seconds: 0 };
  for (let b = 0; b < batches; b++) {
    const idx = order.subarray(b * stage.batch, Math.min(data.count, (b + 1) * stage.batch));
    const batch = subset(data, idx);
    const images = stage.augment === "crop_flip" ? randomCropFlip({ images: batch.images, count: batch.count, height: batch.height, width: batch.width, channels: batch.channels }, 4, augmentRng).images : batch.images;
    const step = run.state.globalStep++;
    setDropoutStep(step);
    const whole: StepBatch = { images: images as Uint8Array, labels: batch.labels, count: batch.count, denominators: lossDenominators(plan, batch.labels), decay: true };
    // A batch smaller than the group (a tiny last batch) is trained by rank 0 alone.
    const { loss: lv, hits: hv } =
      run.replicas && batch.count >= run.replicas.size
        ? run.replicas.step(run.ir, run.models, plan, opt.optimizer, opt.weightDecay, whole, step)
        : trainStep(run.ir, run.models, plan, opt.optimizer, opt.weightDecay, whole);
    t.lossSum += lv * batch.count;
    t.correct += hv;
    t.seen += batch.count;
    run.progress.batch(b + 1, t.lossSum / t.seen, t.correct / t.seen, t.seen / ((performance.now() - t0) / 1000));
    // The backend's reads resolve without a turn of the event loop; one per batch lets signal
    // handlers (SIGINT in `meanet train`) and timers run while an epoch trains.
    await new Promise((resolve) => setImmediate(resolve));
  }
  t.seconds = (performance.now() - t0) / 1000;
  return t;
}

function hashSeed(a: number, b: number, c: number): number {
  let h = (a ^ 0x811c9dc5) >>> 0;
  for (const v of [b, c]) h = Math.imul(h ^ v, 0x01000193) >>> 0;
  return h;
}
