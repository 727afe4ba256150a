import { parseArgs } from "node:util";
import type { TrainStage } from "../../ir/index.js";
import { BACKEND_CHOICES, type BackendRequest } from "./backend.js";
import { DataError } from "./data/errors.js";
import type { DatasetKind } from "./data/locate.js";
import { makeProgress } from "./progress.js";
import { TrainingInterrupted } from "./recipe.js";
import { DATASETS, runTraining, type TrainJob } from "./run.js";

const USAGE = `usage: train.ts [--data DIR] [--dataset ${DATASETS.join("|")}] [--epochs N] [--limit-train N] [--limit-test N] [--seed S] [--backend ${BACKEND_CHOICES.join("|")}]`;

/**
 * Entry point of a generated training program: trains the build directory's model with the stages
 * the program spells out. Returns the process exit code (0 done, 1 failed, 2 usage).
 */
export async function runTrainingProgram(buildDir: string, stages: TrainStage[], argv: string[]): Promise<number> {
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: { data: { type: "string" }, dataset: { type: "string" }, epochs: { type: "string" }, "limit-train": { type: "string" }, "limit-test": { type: "string" }, seed: { type: "string" }, backend: { type: "string" } },
      strict: true,
    }).values as Record<string, string | undefined>;
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const num = (flag: string, min: number): number | undefined => {
    const v = values[flag];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new RangeError(`--${flag} takes a whole number ≥ ${min}, not \`${v}\``);
    return n;
  };
  const job: TrainJob = { buildDir, stages, progress: makeProgress((s) => process.stderr.write(s), Boolean(process.stderr.isTTY)) };
  try {
    const fields = { epochs: num("epochs", 1), limitTrain: num("limit-train", 1), limitTest: num("limit-test", 1), seed: num("seed", 0) };
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) (job as unknown as Record<string, number>)[k] = v;
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.backend !== undefined) {
    if (!(BACKEND_CHOICES as readonly string[]).includes(values.backend)) {
      process.stderr.write(`unknown backend \`${values.backend}\`\n${USAGE}\n`);
      return 2;
    }
    job.backend = values.backend as BackendRequest;
  }
  if (values.dataset !== undefined) {
    if (!(DATASETS as readonly string[]).includes(values.dataset)) {
      process.stderr.write(`unknown dataset \`${values.dataset}\`\n${USAGE}\n`);
      return 2;
    }
    job.dataset = values.dataset as DatasetKind;
  }
  if (values.data !== undefined) job.data = values.data;
  try {
    const report = await runTraining(job);
    for (const x of report.exits) process.stdout.write(`exit ${x.name}: test accuracy ${(x.accuracy * 100).toFixed(2)}% on ${x.samples} images\n`);
    process.stdout.write(`hard classes: ${report.hardClasses.labels.join(", ")}\n`);
    return 0;
  } catch (e) {
    if (e instanceof DataError || e instanceof TrainingInterrupted) {
      process.stderr.write(`${e instanceof DataError ? `error ${e.code}: ` : ""}${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
