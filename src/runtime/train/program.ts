import type { TrainStage } from "../../format/ir.js";
import { parseFlags, programFailure } from "../argv.js";
import { BACKEND_CHOICES } from "./backend.js";
import { makeProgress } from "./progress.js";
import { DATASETS, runTraining, TRAIN_FLAGS, trainOptionsFromFlags } from "./run.js";

const USAGE = `usage: train.ts [--help] [--data DIR] [--dataset ${DATASETS.join("|")}] [--epochs N] [--limit-train N] [--limit-test N] [--seed S] [--backend ${BACKEND_CHOICES.join("|")}] [--workers N]`;

/**
 * Entry point of a generated training program: trains the build directory's model with the stages
 * the program spells out. Returns the process exit code (0 done, 1 failed, 2 usage).
 */
export async function runTrainingProgram(buildDir: string, stages: TrainStage[], argv: string[]): Promise<number> {
  try {
    const { values } = parseFlags(argv, { ...TRAIN_FLAGS, help: { type: "boolean", short: "h" } });
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const options = trainOptionsFromFlags(values);
    const report = await runTraining({ buildDir, stages, progress: makeProgress((s) => process.stderr.write(s), Boolean(process.stderr.isTTY)), ...options });
    for (const x of report.exits) process.stdout.write(`exit ${x.name}: test accuracy ${(x.accuracy * 100).toFixed(2)}% on ${x.samples} images\n`);
    process.stdout.write(`hard classes: ${report.hardClasses.labels.join(", ")}\n`);
    return 0;
  } catch (e) {
    return programFailure(e, USAGE);
  }
}
