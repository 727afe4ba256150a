import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Codes } from "../diagnostics/index.js";
import type { IrJson } from "../codegen/index.js";
import { BACKEND_CHOICES, selectBackend, type BackendRequest } from "../runtime/train/backend.js";
import { DataError } from "../runtime/train/data/errors.js";
import { take, type Dataset } from "../runtime/train/data/dataset.js";
import { labelNames, loadSplit, locateDataset, type DatasetKind } from "../runtime/train/data/locate.js";
import { registerWasmGradientKernels } from "../runtime/train/kernels/index.js";
import { makeProgress } from "../runtime/train/progress.js";
import { trainModel, TrainingInterrupted, type TrainReport } from "../runtime/train/recipe.js";
import { parseCommandArgs } from "./args.js";
import { artifactOf, buildFiles, writeBuild } from "./build.js";
import { EXIT_ERRORS, EXIT_OK, UsageError, type Io } from "./io.js";
import { errorsOf, loadSpec, renderDiagnostics, summary } from "./load.js";
import { writeAtomic } from "./write.js";

export const usage = `usage: meanet train FILE -o DIR [--data DIR] [--dataset fashion-mnist|mnist|cifar10|cifar100]
                    [--epochs N] [--limit-train N] [--limit-test N] [--seed S] [--backend ${BACKEND_CHOICES.join("|")}]`;

const DATASETS: readonly DatasetKind[] = ["fashion-mnist", "mnist", "cifar10", "cifar100"];

/** The data set a spec's input fits, unless the user names one. */
export function datasetFor(ir: IrJson, requested: string | undefined): DatasetKind {
  if (requested) {
    if (!(DATASETS as readonly string[]).includes(requested)) throw new UsageError(`unknown dataset \`${requested}\`; one of ${DATASETS.join(", ")}\n${usage}`);
    return requested as DatasetKind;
  }
  const [h, w, c] = ir.input.shape;
  if (h === 28 && w === 28 && c === 1 && ir.labels.length === 10) return "fashion-mnist";
  if (h === 32 && w === 32 && c === 3 && ir.labels.length === 10) return "cifar10";
  if (h === 32 && w === 32 && c === 3 && ir.labels.length === 100) return "cifar100";
  throw new DataError(Codes.DataMissing, "--dataset", `no known data set fits input ${ir.input.shape.join("×")} with ${ir.labels.length} classes; pass --dataset and --data`);
}

function positiveInt(v: string | undefined, flag: string, min = 1): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag} takes a whole number ≥ ${min}, not \`${v}\`\n${usage}`);
  return n;
}

/** `meanet train FILE -o DIR`: the spec's training stages on real data, checkpointed, resumable. */
export async function train(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      out: { type: "string", short: "o" },
      data: { type: "string" },
      dataset: { type: "string" },
      epochs: { type: "string" },
      "limit-train": { type: "string" },
      "limit-test": { type: "string" },
      seed: { type: "string" },
      backend: { type: "string", default: "auto" },
      help: { type: "boolean", short: "h" },
    },
    usage,
    { min: 0, max: 1 },
  );
  if (values.help) {
    io.out(usage);
    return EXIT_OK;
  }
  if (positionals.length !== 1 || !values.out) throw new UsageError(usage);
  const epochs = positiveInt(values.epochs, "--epochs");
  const limitTrain = positiveInt(values["limit-train"], "--limit-train");
  const limitTest = positiveInt(values["limit-test"], "--limit-test");
  const seed = positiveInt(values.seed, "--seed", 0);
  if (!(BACKEND_CHOICES as readonly string[]).includes(values.backend!)) throw new UsageError(`unknown backend \`${values.backend}\`\n${usage}`);

  const r = loadSpec(positionals[0]!);
  if (errorsOf(r).length || !r.ir) {
    io.err(renderDiagnostics(r.diagnostics) + "\n\n" + summary(r.diagnostics));
    return EXIT_ERRORS;
  }
  const b = buildFiles(r, values.out);
  let trainData: Dataset;
  let testData: Dataset;
  let source: string;
  try {
    const kind = datasetFor(b.irJson, values.dataset);
    const located = locateDataset(kind, values.data);
    const names = labelNames(located);
    if (names.length !== b.irJson.labels.length) {
      throw new DataError(Codes.DataCorrupt, located.dir, `the data set has ${names.length} classes but the spec declares ${b.irJson.labels.length} labels`);
    }
    trainData = loadSplit(located, "train");
    testData = loadSplit(located, "test");
    if (limitTrain !== undefined) trainData = take(trainData, limitTrain);
    if (limitTest !== undefined) testData = take(testData, limitTest);
    source = located.description;
  } catch (e) {
    if (e instanceof DataError) {
      io.err(`error ${e.code}: ${e.message}`);
      return EXIT_ERRORS;
    }
    throw e;
  }
  const backend = await selectBackend(values.backend as BackendRequest, (name) => {
    if (name === "wasm") registerWasmGradientKernels();
  });
  const progress = makeProgress((s) => (io.isTty ? process.stderr.write(s) : io.err(s.replace(/\n$/, ""))), io.isTty);
  progress.info(`training ${b.irJson.model} on ${source}: ${trainData.count} train / ${testData.count} test images, backend ${backend}`);
  let report: TrainReport;
  try {
    report = await trainModel({ ir: b.irJson, irText: b.irText, train: trainData, test: testData, dataSource: source, outDir: b.dir, backend, epochs, seed, progress });
  } catch (e) {
    if (e instanceof TrainingInterrupted) {
      io.err(e.message);
      return EXIT_ERRORS;
    }
    throw e;
  }
  const reportText = JSON.stringify(report, null, 2) + "\n";
  writeAtomic(join(b.dir, "train-report.json"), reportText);
  const extra = [artifactOf("train-report.json", reportText)];
  for (const block of b.irJson.blocks) {
    for (const f of ["model.json", "weights.bin"]) {
      const path = `weights/${block.name}/${f}`;
      extra.push(artifactOf(path, readFileSync(join(b.dir, path))));
    }
  }
  writeBuild(r, b, extra, { hardClasses: report.hardClasses.labels });
  for (const x of report.exits) io.out(`exit ${x.name} (${x.classes} classes): test accuracy ${(x.accuracy * 100).toFixed(2)}% on ${x.samples} images`);
  if (report.hardClassComparison) {
    const parts = Object.entries(report.hardClassComparison.exits).map(([k, v]) => `${k} ${(v * 100).toFixed(2)}%`);
    io.out(`on the ${report.hardClassComparison.samples} test images of hard classes: ${parts.join(", ")}`);
  }
  io.out(`hard classes: ${report.hardClasses.labels.join(", ")}`);
  io.out(`wrote ${b.dir}/train-report.json and weights/ (${report.seconds.toFixed(1)} s)`);
  return EXIT_OK;
}
