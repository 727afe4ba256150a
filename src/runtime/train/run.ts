import { readFileSync, writeFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import type { IrJson } from "../../format/ir.js";
import type { TrainStage } from "../../format/ir.js";
import { Codes } from "../../diagnostics/codes.js";
import { UsageError } from "../../diagnostics/error.js";
import { integerFlag } from "../argv.js";
import { dataError } from "./data/errors.js";
import { BACKEND_CHOICES, selectBackend, type BackendRequest } from "./backend.js";
import type { Dataset } from "./data/dataset.js";
import { datasetFor, labelNames, loadSplit, locateFor, type DatasetKind } from "./data/locate.js";

export { datasetFor };
import { registerWasmGradientKernels } from "./kernels/index.js";
import type { Progress } from "./progress.js";
import { trainModel, type TrainReport } from "./recipe.js";
import { defaultWorkers } from "./parallel/pool.js";

export interface TrainJob {
  /** DIR/<model>: where ir.json is and where weights/ and train-report.json go. */
  buildDir: string;
  data?: string;
  dataset?: DatasetKind;
  epochs?: number;
  limitTrain?: number;
  limitTest?: number;
  seed?: number;
  backend?: BackendRequest;
  /** Threads sharing each step; default: one per core on the wasm and cpu backends, 1 on tfjs-node. */
  workers?: number;
  /** Replaces the stages of ir.json (the generated training program passes its own copy). */
  stages?: TrainStage[];
  progress: Progress;
  stopAfterEpochs?: number;
}

export const DATASETS: readonly DatasetKind[] = ["fashion-mnist", "mnist", "cifar10", "cifar100", "folder"];

/** The flags `meanet train` and generated programs share, as parseArgs options. */
export const TRAIN_FLAGS = {
  data: { type: "string" },
  dataset: { type: "string" },
  epochs: { type: "string" },
  "limit-train": { type: "string" },
  "limit-test": { type: "string" },
  seed: { type: "string" },
  backend: { type: "string" },
  workers: { type: "string" },
} as const;

/** Validates the shared flags into job options; a bad value is a UsageError. */
export function trainOptionsFromFlags(values: Partial<Record<keyof typeof TRAIN_FLAGS, string>>): Partial<Pick<TrainJob, "data" | "dataset" | "epochs" | "limitTrain" | "limitTest" | "seed" | "backend" | "workers">> {
  const whole = (flag: keyof typeof TRAIN_FLAGS, min: number) => integerFlag(flag, values[flag], { min });
  if (values.backend !== undefined && !(BACKEND_CHOICES as readonly string[]).includes(values.backend)) throw new UsageError(`unknown backend \`${values.backend}\``);
  if (values.dataset !== undefined && !(DATASETS as readonly string[]).includes(values.dataset)) throw new UsageError(`unknown dataset \`${values.dataset}\``);
  const out = {
    data: values.data,
    dataset: values.dataset as DatasetKind | undefined,
    epochs: whole("epochs", 1),
    limitTrain: whole("limit-train", 1),
    limitTest: whole("limit-test", 1),
    seed: whole("seed", 0),
    backend: values.backend as BackendRequest | undefined,
    workers: whole("workers", 1),
  };
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
}

/** The flags that give `trainOptionsFromFlags` these options again (a command to rerun the same training). */
export function trainFlagsOf(job: ReturnType<typeof trainOptionsFromFlags>): string[] {
  const values: Record<keyof typeof TRAIN_FLAGS, string | number | undefined> = {
    data: job.data,
    dataset: job.dataset,
    epochs: job.epochs,
    "limit-train": job.limitTrain,
    "limit-test": job.limitTest,
    seed: job.seed,
    backend: job.backend,
    workers: job.workers,
  };
  return Object.entries(values).flatMap(([flag, v]) => (v === undefined ? [] : [`--${flag}`, String(v)]));
}

/**
 * Loads the data a build trains on; a missing or corrupt file is a DataError naming it. `validation`
 * is the data set's own validation split when it has one (an image folder's val/), else training
 * holds images out of `train`.
 */
export function loadTrainingData(ir: IrJson, job: Pick<TrainJob, "data" | "dataset" | "limitTrain" | "limitTest">): { train: Dataset; test: Dataset; validation?: Dataset; source: string } {
  const located = locateFor(ir, job.data, job.dataset);
  const names = labelNames(located);
  if (names.length !== ir.labels.length) {
    throw dataError(Codes.DataCorrupt, located.dir, `the data set has ${names.length} classes but the spec declares ${ir.labels.length} labels`);
  }
  const train = loadSplit(located, "train", { limit: job.limitTrain });
  const test = loadSplit(located, "test", { limit: job.limitTest });
  const validation = located.files.validation ? loadSplit(located, "validation") : undefined;
  return { train, test, ...(validation ? { validation } : {}), source: located.description };
}

/** Reads ir.json, trains, and writes weights/<block>/ and train-report.json into the build directory. */
export async function runTraining(job: TrainJob): Promise<TrainReport> {
  const irText = readFileSync(join(job.buildDir, "ir.json"), "utf8");
  const parsed = JSON.parse(irText) as IrJson;
  const ir: IrJson = job.stages ? { ...parsed, training: { ...parsed.training, stages: job.stages } } : parsed;
  const { train, test, validation, source } = loadTrainingData(ir, job);
  const backend = await selectBackend(job.backend ?? "auto", (name) => {
    if (name === "wasm") registerWasmGradientKernels();
  });
  const workers = job.workers ?? defaultWorkers(backend);
  job.progress.info(`training ${ir.model} on ${source}: ${train.count} train / ${test.count} test images, backend ${backend}${workers > 1 ? `, ${workers} workers` : ""}`);
  const report = await trainModel({
    ir,
    train,
    test,
    ...(validation ? { validation } : {}),
    dataSource: source,
    outDir: job.buildDir,
    backend,
    workers,
    ...(job.epochs !== undefined ? { epochs: job.epochs } : {}),
    ...(job.seed !== undefined ? { seed: job.seed } : {}),
    progress: job.progress,
    ...(job.stopAfterEpochs !== undefined ? { stopAfterEpochs: job.stopAfterEpochs } : {}),
  });
  const path = join(job.buildDir, "train-report.json");
  writeFileSync(`${path}.tmp-${process.pid}`, JSON.stringify(report, null, 2) + "\n");
  renameSync(`${path}.tmp-${process.pid}`, path);
  return report;
}
