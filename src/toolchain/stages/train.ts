import { rmSync } from "node:fs";
import { trainingArtifacts } from "../buildFiles.js";
import { join } from "node:path";
import { makeProgress } from "../../runtime/train/progress.js";
import { runTraining } from "../../runtime/train/run.js";
import { hashOf, keyOf, trainingView } from "../buildStages.js";
import type { BuildData, Stage, StageContext } from "./stage.js";

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

/**
 * The train stage: the weights of every block and train-report.json. Its inputs: what training
 * reads from the IR (not routing, assertions or source positions), the data, the flags.
 */
export function trainStage({ b, job, log, p, tool, writeBuild }: StageContext, data: BuildData): Stage {
  const inputs = {
    tool: tool("train"),
    model: hashOf(trainingView(b.irJson)),
    data: hashOf([data.identity.train, data.identity.test]),
    options: hashOf({ epochs: job.epochs ?? null, limitTrain: job.limitTrain ?? null, limitTest: job.limitTest ?? null, seed: job.seed ?? null, backend: job.backend ?? "auto", workers: job.workers ?? null }),
  };
  // A record means the last training finished (a stage drops its record when it starts), so a
  // checkpoint beside a record of other inputs is that training's, and would be resumed as this one's.
  const finished = p.records.train;
  return {
    inputs,
    async work() {
      if (p.force || (finished && finished.key !== keyOf(inputs))) rmSync(join(b.dir, "checkpoint"), { recursive: true, force: true });
      const report = await runTraining({ buildDir: b.dir, progress: makeProgress(p.detail, log.isTty), ...job });
      const extra = trainingArtifacts(b.dir, b.irJson);
      writeBuild(extra, { hardClasses: report.hardClasses.labels });
      const exits = report.exits.map((x) => `${x.name} ${pct(x.accuracy)}`).join(", ");
      return {
        outputs: Object.fromEntries(extra.map((a) => [a.path, a.sha256])),
        summary: `${report.stages.length} stages on ${report.data.train.toLocaleString("en-US")} images (${report.backend}); test accuracy ${exits}; hard classes ${report.hardClasses.labels.join(", ")}`,
      };
    },
  };
}
