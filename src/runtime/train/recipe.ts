/**
 * The stage-wise MEANet recipe (or the joint alternative), resumable from the last finished epoch:
 * build the blocks, split off validation data, resume from the checkpoint or start afresh, train the
 * stages in order (ranking the hard classes once the ranking exit is trained), then save the weights
 * and score every exit on the test data.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { DEFER_WEIGHTS, type DeferralModel } from "../../format/defer.js";
import { trainDeferral } from "./deferral.js";
import type { IrJson } from "../../format/ir.js";
import { blockSignature } from "../../format/signature.js";
import { Codes, MeanetError } from "../../diagnostics/index.js";
import { buildBlockModel, type BlockModel } from "./builder.js";
import { checkpointFingerprint, freshState, loadCheckpoint, saveCheckpoint, type CheckpointState } from "./checkpoint.js";
import { splitValidation, type Dataset } from "./data/dataset.js";
import { trainStage, type TrainingRun } from "./epochs.js";
import type { Progress } from "./progress.js";
import { finalHardClasses, namedHardClasses, rankAfterStage, rankingExit } from "./ranking.js";
import { round, testScores, type TrainReport } from "./report.js";
import { planStage } from "./stage.js";
import { saveModel } from "./weights.js";
import { ReplicaGroup } from "./parallel/pool.js";
import { trainingView } from "../../format/trainingView.js";

export type { StageReport, TrainReport } from "./report.js";

export interface TrainOptions {
  ir: IrJson;
  train: Dataset;
  /** The data set's own validation split; without it, `ir.training.validationSplit` of `train` is held out. */
  validation?: Dataset;
  test: Dataset;
  dataSource: string;
  outDir: string;
  backend: string;
  /** Threads sharing each step (data-parallel); 1 (the default) trains on this thread alone. */
  workers?: number;
  epochs?: number;
  seed?: number;
  progress: Progress;
  /** Stop after this many epochs in total (tests of resumption). */
  stopAfterEpochs?: number;
}

/** Training stopped after the epochs it was asked to stop after; its checkpoint is kept, so a new run resumes. */
export class TrainingInterrupted extends MeanetError {
  constructor() {
    super(Codes.TrainingStopped, "training stopped early as requested; run again to resume");
  }
}

/** Trains every stage of the plan in `o.ir`, writes weights/<block>/ into `o.outDir`, and reports. */
export async function trainModel(o: TrainOptions): Promise<TrainReport> {
  const started = performance.now();
  const { ir } = o;
  const seed = o.seed ?? ir.training.seed;
  // What training reads, not the whole ir.json: a comment, an assertion or a routing threshold edited since does not restart it.
  const fingerprint = checkpointFingerprint(JSON.stringify(trainingView(ir)), seed, o.epochs, o.train.count, o.test.count);
  const models = new Map<string, BlockModel>();
  for (const b of ir.blocks) models.set(b.name, buildBlockModel(ir, b, seed));
  const workers = o.workers ?? 1;
  let replicas: ReplicaGroup | undefined;
  try {
    if (workers > 1) replicas = await ReplicaGroup.start(ir, seed, o.backend, workers, models);
    const { train, validation } = o.validation ? { train: o.train, validation: o.validation } : splitValidation(o.train, ir.training.validationSplit, seed);
    const checkpointDir = join(o.outDir, "checkpoint");
    const state = (await resume(checkpointDir, fingerprint, models, o)) ?? freshState(fingerprint, namedHardClasses(ir));
    const run: TrainingRun = {
      ir,
      models,
      seed,
      state,
      checkpointDir,
      progress: o.progress,
      stopAfterEpochs: o.stopAfterEpochs,
      epochsThisRun: 0,
      replicas,
      // Step 2 of the recipe: once the ranking exit is trained, its per-class validation accuracy picks the hard classes.
      stageFinished: (plan) => rankAfterStage(ir, models, validation, plan.trained, state, o.progress),
      validation,
      trainImages: train.count,
      epochsOf: (si) => o.epochs ?? ir.training.stages[si]!.epochs,
    };
    for (let si = state.stage; si < ir.training.stages.length; si++) {
      const stage = ir.training.stages[si]!;
      if (stage.defer) {
        await deferralStage(run, si, finalHardClasses(ir, models, validation, state).hard);
        continue;
      }
      const plan = planStage(ir, models, si, run.epochsOf(si), train, state.hardClasses);
      if ((await trainStage(run, plan)) === "stopped") throw new TrainingInterrupted();
    }

    const { hard, perClass } = finalHardClasses(ir, models, validation, state);
    for (const [name, bm] of models) await saveModel(bm.model, join(o.outDir, "weights", name));
    writeDeferral(o.outDir, state.deferral);
    const scores = testScores(ir, models, o.test, hard);
    const ranker = rankingExit(ir);
    return {
      backend: o.backend,
      workers,
      seed,
      data: { source: o.dataSource, train: train.count, validation: validation.count, test: o.test.count },
      stages: state.stages,
      exits: scores.exits,
      perClassAccuracy: perClass && ranker ? { exit: ranker, values: perClass.map(round) } : null,
      hardClasses: { ids: hard, labels: hard.map((c) => ir.labels[c]!) },
      hardClassComparison: scores.hardClassComparison,
      blocks: Object.fromEntries(ir.blocks.map((b) => [b.name, blockSignature(ir, b.name)])),
      ...(state.deferral ? { deferral: state.deferral.training } : {}),
      seconds: round((performance.now() - started) / 1000),
    };
  } finally {
    await replicas?.close();
    for (const bm of models.values()) bm.model.dispose();
  }
}

/** Fits the deferral model of stage `si`, records it in the state and saves the checkpoint: a resumed run keeps it. */
async function deferralStage(run: TrainingRun, si: number, hard: number[]): Promise<void> {
  const stage = run.ir.training.stages[si]!;
  const t0 = performance.now();
  const model = trainDeferral(run.ir, run.models, run.validation, hard, stage, run.seed);
  const seconds = (performance.now() - t0) / 1000;
  const t = model.training;
  run.progress.info(`${stage.name}: deferral model fitted on ${t.samples} held-out images (${t.positives} gain from the cloud), loss ${t.finalLoss.toFixed(4)}, ${seconds.toFixed(1)} s`);
  run.state.deferral = model;
  run.state.stages.push({ name: stage.name, epochs: stage.epochs, samples: t.samples * stage.epochs, seconds: round(seconds), samplesPerSecond: round((t.samples * stage.epochs) / seconds), finalLoss: t.finalLoss });
  run.state.stage = si + 1;
  run.state.epochsDone = 0;
  await saveCheckpoint(run.checkpointDir, run.state, run.models, undefined);
}

/** weights/defer.json: the deferral model, written whole or not at all; a stale one is removed. */
function writeDeferral(outDir: string, model: DeferralModel | undefined): void {
  const path = join(outDir, "weights", DEFER_WEIGHTS);
  if (!model) {
    rmSync(path, { force: true });
    return;
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp-${process.pid}`, JSON.stringify(model) + "\n");
  renameSync(`${path}.tmp-${process.pid}`, path);
}

/** The checkpoint's state when there is one of this run, with the blocks' weights restored. */
async function resume(dir: string, fingerprint: string, models: Map<string, BlockModel>, o: TrainOptions): Promise<CheckpointState | undefined> {
  const state = await loadCheckpoint(dir, fingerprint, models, o.progress);
  if (state) o.progress.info(`resuming from checkpoint: stage ${o.ir.training.stages[state.stage]?.name ?? "(done)"}, epoch ${state.epochsDone}`);
  return state;
}
