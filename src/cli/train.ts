import { join } from "node:path";
import { EXIT_ERRORS, EXIT_OK } from "../diagnostics/index.js";
import { BACKEND_CHOICES } from "../runtime/train/backend.js";
import type { IrJson } from "../format/ir.js";
import { checkpointPosition } from "../runtime/train/checkpoint.js";
import { makeProgress, type Progress } from "../runtime/train/progress.js";
import { DATASETS, runTraining, TRAIN_FLAGS, trainFlagsOf, trainOptionsFromFlags } from "../runtime/train/run.js";
import { buildFiles, trainingArtifacts, writeBuild } from "../toolchain/buildFiles.js";
import { defineCommand } from "./command.js";
import { errorsOf, loadSpec, renderDiagnostics, summary } from "../toolchain/load.js";

export const usage = `usage: meanet train FILE -o DIR [--data DIR] [--dataset ${DATASETS.join("|")}]
                    [--epochs N] [--limit-train N] [--limit-test N] [--seed S] [--backend ${BACKEND_CHOICES.join("|")}] [--workers N]`;

/** The exit code of a training stopped by SIGINT, as a shell reports a process killed by it (128 + 2). */
const EXIT_INTERRUPTED = 130;

/** The epoch training last started, and whether it has ended. */
interface EpochUnderWay {
  stage: string;
  epoch: number;
  epochs: number;
  ended: boolean;
}

/** `shown`, noting in `at` each epoch as it starts and ends. */
function tracking(shown: Progress, at: EpochUnderWay): Progress {
  return {
    ...shown,
    epochStart(stage, epoch, epochs, batches) {
      Object.assign(at, { stage, epoch, epochs, ended: false });
      shown.epochStart(stage, epoch, epochs, batches);
    },
    epochEnd(line) {
      at.ended = true;
      shown.epochEnd(line);
    },
  };
}

/** What `meanet train` says when SIGINT stops it: where it stopped, what the checkpoint keeps, and the command that resumes. */
export function interruptedMessage(ir: IrJson, dir: string, at: EpochUnderWay, epochs: number | undefined, command: string): string {
  const where = at.epoch ? `${at.ended ? "after" : "during"} ${at.stage} epoch ${at.epoch}/${at.epochs}` : "before its first epoch";
  const checkpoint = join(dir, "checkpoint");
  const kept = checkpointPosition(checkpoint);
  let keeps = "kept: nothing, no epoch had finished; the next run starts from the beginning";
  if (kept && (kept.stage > 0 || kept.epochsDone > 0)) {
    const finished = kept.stages.at(-1);
    const stage = ir.training.stages[kept.stage];
    const last = kept.epochsDone > 0 && stage ? `${stage.name} epoch ${kept.epochsDone}/${epochs ?? stage.epochs}` : `${finished!.name} epoch ${finished!.epochs}/${finished!.epochs}`;
    keeps = `kept: the checkpoint after ${last} in ${checkpoint} (weights/ and train-report.json are written when training ends); the next run resumes from it`;
  }
  return [`training stopped (SIGINT) ${where}`, keeps, `resume with: ${command}`].join("\n");
}

/** A word as a POSIX shell reads it back: as it is when plain, else single-quoted. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

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
    const at: EpochUnderWay = { stage: "", epoch: 0, epochs: 0, ended: false };
    const progress = tracking(makeProgress((s) => (io.isTty ? process.stderr.write(s) : io.err(s.replace(/\n$/, ""))), io.isTty), at);
    const command = ["meanet", "train", file, "-o", out, ...trainFlagsOf(job)].map(shellWord).join(" ");
    const interrupted = () => {
      io.err(`${io.isTty ? "\n" : ""}${interruptedMessage(b.irJson, b.dir, at, job.epochs, command)}`);
      process.exit(EXIT_INTERRUPTED);
    };
    process.once("SIGINT", interrupted);
    let report;
    try {
      report = await runTraining({ buildDir: b.dir, progress, ...job });
    } finally {
      process.off("SIGINT", interrupted);
    }
    const extra = trainingArtifacts(b.dir, b.irJson);
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
