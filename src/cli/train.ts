import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BACKEND_CHOICES, type BackendRequest } from "../runtime/train/backend.js";
import { DataError } from "../runtime/train/data/errors.js";
import type { DatasetKind } from "../runtime/train/data/locate.js";
import { makeProgress } from "../runtime/train/progress.js";
import { TrainingInterrupted, type TrainReport } from "../runtime/train/recipe.js";
import { DATASETS, runTraining } from "../runtime/train/run.js";
import { parseCommandArgs } from "./args.js";
import { artifactOf, buildFiles, writeBuild } from "./build.js";
import { EXIT_ERRORS, EXIT_OK, UsageError, type Io } from "./io.js";
import { errorsOf, loadSpec, renderDiagnostics, summary } from "./load.js";

export const usage = `usage: meanet train FILE -o DIR [--data DIR] [--dataset ${DATASETS.join("|")}]
                    [--epochs N] [--limit-train N] [--limit-test N] [--seed S] [--backend ${BACKEND_CHOICES.join("|")}]`;

function wholeNumber(v: string | undefined, flag: string, min = 1): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag} takes a whole number ≥ ${min}, not \`${v}\`\n${usage}`);
  return n;
}

/** `meanet train FILE -o DIR`: compiles, trains the spec's stages on real data (checkpointed, resumable), records the hard classes. */
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
  if (!(BACKEND_CHOICES as readonly string[]).includes(values.backend!)) throw new UsageError(`unknown backend \`${values.backend}\`\n${usage}`);
  if (values.dataset !== undefined && !(DATASETS as readonly string[]).includes(values.dataset)) throw new UsageError(`unknown dataset \`${values.dataset}\`\n${usage}`);
  const job = {
    epochs: wholeNumber(values.epochs, "--epochs"),
    limitTrain: wholeNumber(values["limit-train"], "--limit-train"),
    limitTest: wholeNumber(values["limit-test"], "--limit-test"),
    seed: wholeNumber(values.seed, "--seed", 0),
    data: values.data,
    dataset: values.dataset as DatasetKind | undefined,
    backend: values.backend as BackendRequest,
  };

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
    report = await runTraining({ buildDir: b.dir, progress, ...definedOnly(job) });
  } catch (e) {
    if (e instanceof DataError) {
      io.err(`error ${e.code}: ${e.message}`);
      return EXIT_ERRORS;
    }
    if (e instanceof TrainingInterrupted) {
      io.err(e.message);
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

function definedOnly<T extends object>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };
}
