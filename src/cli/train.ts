import { readFileSync } from "node:fs";
import { join } from "node:path";
import { EXIT_ERRORS, EXIT_OK } from "../diagnostics/index.js";
import { BACKEND_CHOICES } from "../runtime/train/backend.js";
import { makeProgress } from "../runtime/train/progress.js";
import { DATASETS, runTraining, TRAIN_FLAGS, trainOptionsFromFlags } from "../runtime/train/run.js";
import { artifactOf, buildFiles, writeBuild } from "../toolchain/buildFiles.js";
import { defineCommand } from "./command.js";
import { errorsOf, loadSpec, renderDiagnostics, summary } from "../toolchain/load.js";

export const usage = `usage: meanet train FILE -o DIR [--data DIR] [--dataset ${DATASETS.join("|")}]
                    [--epochs N] [--limit-train N] [--limit-test N] [--seed S] [--backend ${BACKEND_CHOICES.join("|")}]`;

/** `meanet train FILE -o DIR`: compiles, trains the spec's stages on real data (checkpointed, resumable), records the hard classes. */
export const train = defineCommand({
  usage,
  options: { out: { type: "string", short: "o" }, ...TRAIN_FLAGS },
  positionals: ["FILE"],
  required: ["out"],
  read: (values, [file]) => ({ file: file!, out: values.out!, job: trainOptionsFromFlags(values) }),
  async run({ file, out, job }, io) {
    const r = loadSpec(file);
    if (errorsOf(r).length || !r.ir) {
      io.err(renderDiagnostics(r.diagnostics) + "\n\n" + summary(r.diagnostics));
      return EXIT_ERRORS;
    }
    const b = buildFiles(r, out);
    writeBuild(r, b);
    const progress = makeProgress((s) => (io.isTty ? process.stderr.write(s) : io.err(s.replace(/\n$/, ""))), io.isTty);
    const report = await runTraining({ buildDir: b.dir, progress, ...job });
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
  },
});
