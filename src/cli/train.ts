import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BACKEND_CHOICES } from "../runtime/train/backend.js";
import { makeProgress } from "../runtime/train/progress.js";
import type { TrainReport } from "../runtime/train/recipe.js";
import { DATASETS, runTraining, TRAIN_FLAGS, TrainFlagError, trainOptionsFromFlags } from "../runtime/train/run.js";
import { parseCommandArgs } from "./args.js";
import { artifactOf, buildFiles, writeBuild } from "../toolchain/buildFiles.js";
import { EXIT_ERRORS, EXIT_OK, UsageError, type Io } from "./io.js";
import { errorsOf, loadSpec, renderDiagnostics, summary } from "./load.js";
import { MeanetError } from "../diagnostics/index.js";

export const usage = `usage: meanet train FILE -o DIR [--data DIR] [--dataset ${DATASETS.join("|")}]
                    [--epochs N] [--limit-train N] [--limit-test N] [--seed S] [--backend ${BACKEND_CHOICES.join("|")}]`;

/** `meanet train FILE -o DIR`: compiles, trains the spec's stages on real data (checkpointed, resumable), records the hard classes. */
export async function train(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { out: { type: "string", short: "o" }, help: { type: "boolean", short: "h" }, ...TRAIN_FLAGS }, usage, { min: 0, max: 1 });
  if (values.help) {
    io.out(usage);
    return EXIT_OK;
  }
  if (positionals.length !== 1 || !values.out) throw new UsageError(usage);
  let job: ReturnType<typeof trainOptionsFromFlags>;
  try {
    job = trainOptionsFromFlags(values);
  } catch (e) {
    if (e instanceof TrainFlagError) throw new UsageError(`${e.message}\n${usage}`);
    throw e;
  }

  const r = loadSpec(positionals[0]!);
  if (errorsOf(r).length || !r.ir) {
    io.err(renderDiagnostics(r.diagnostics) + "\n\n" + summary(r.diagnostics));
    return EXIT_ERRORS;
  }
  const b = buildFiles(r, values.out);
  writeBuild(r, b);
  const progress = makeProgress((s) => (io.isTty ? process.stderr.write(s) : io.err(s.replace(/\n$/, ""))), io.isTty);
  let report: TrainReport;
  try {
    report = await runTraining({ buildDir: b.dir, progress, ...job });
  } catch (e) {
    if (e instanceof MeanetError) {
      io.err(e.render());
      return EXIT_ERRORS;
    }
    throw e;
  }
  const extra = [artifactOf("train-report.json", readFileSync(join(b.dir, "train-report.json")))];
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

