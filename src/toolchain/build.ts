/**
 * `meanet build`'s stages in order: compile → train → export → verify → eval, each reused when its
 * inputs hash as manifest.json recorded and its files are intact (buildStages.ts), each run by
 * the pipeline (pipeline.ts) from its module under stages/.
 */
import { MeanetError } from "../diagnostics/index.js";
import type { EvalReport } from "../format/eval.js";
import type { BuildStage, Manifest } from "../format/manifest.js";
import type { CompileResult } from "../ir/index.js";
import { locateFor } from "../runtime/train/data/locate.js";
import { buildFiles, writeBuild } from "./buildFiles.js";
import { dataIdentity, STAGES } from "./buildStages.js";
import { evalSummary, readEvalReport, type BuildEvalSummary } from "./evalSummary.js";
import { Pipeline, secondsSince, type StageOutcome } from "./pipeline.js";
import { compileStage } from "./stages/compile.js";
import { evalStage } from "./stages/eval.js";
import { exportStage } from "./stages/export.js";
import type { BuildData, BuildJob, BuildLog, StageContext } from "./stages/stage.js";
import { trainStage } from "./stages/train.js";
import { verifyStage } from "./stages/verify.js";
import { toolKey } from "./toolKey.js";

export type { BuildJob, BuildLog } from "./stages/stage.js";
export type { StageOutcome, StageStatus } from "./pipeline.js";
export { stageLine } from "./pipeline.js";

/**
 * The modules whose code each stage runs (paths under src/ or dist/, as `.js`): their code is the
 * stage's `tool` input. Each names the module of the stage's body, which reaches the rest through
 * its imports. Compiling also runs the command's reading of the spec (toolchain/load.js) and the
 * emitters of the build's files (buildFiles.js). The manifest a stage rewrites is compile's
 * output, so buildFiles.js is in compile's key only.
 */
export const STAGE_CODE: Record<BuildStage, readonly string[]> = {
  compile: ["toolchain/load.js", "toolchain/buildFiles.js", "toolchain/stages/compile.js"],
  train: ["toolchain/stages/train.js"],
  export: ["toolchain/stages/export.js"],
  verify: ["toolchain/stages/verify.js"],
  eval: ["toolchain/stages/eval.js"],
};

/** The last line of `meanet build --json`. */
export interface BuildSummary {
  model: string | null;
  dir: string | null;
  ok: boolean;
  /** The stage that stopped the build, if one did. */
  failed: BuildStage | null;
  seconds: number;
  stages: Record<BuildStage, StageOutcome>;
  eval: BuildEvalSummary | null;
}

/** What the stages of a build did, and the evaluation report when there is one. */
export interface BuildOutcome {
  dir: string;
  stages: Record<BuildStage, StageOutcome>;
  report: EvalReport | undefined;
  manifest: Manifest | undefined;
}

export interface BuildRequest {
  /** The spec, compiled without errors. */
  r: CompileResult;
  outDir: string;
  job: BuildJob;
  force: boolean;
  log: BuildLog;
}

/** Runs the stages of a spec that compiled, into `outDir/<model>`. */
export async function runBuild({ r, outDir, job, force, log }: BuildRequest): Promise<BuildOutcome> {
  const b = buildFiles(r, outDir);
  const p = new Pipeline(b.dir, log, force);
  const ctx: StageContext = { r, b, job, log, p, tool: (stage) => toolKey(STAGE_CODE[stage]), writeBuild: (extra, trained) => writeBuild(r, b, extra, trained) };
  const report = await runStages(ctx);
  return { dir: b.dir, stages: p.outcomes, report, manifest: p.manifest() };
}

/** Each stage in order; the build stops at the first that fails. */
async function runStages(ctx: StageContext): Promise<EvalReport | undefined> {
  const { p } = ctx;
  if (!(await p.stage("compile", compileStage(ctx)))) return undefined;
  const data = locateData(ctx);
  if (!data) return undefined;
  if (!(await p.stage("train", trainStage(ctx, data)))) return undefined;
  if (!(await p.stage("export", exportStage(ctx, data)))) return undefined;
  if (!(await p.stage("verify", verifyStage(ctx, data)))) return undefined;
  let report: EvalReport | undefined;
  const evaluated = await p.stage("eval", evalStage(ctx, data, (r) => (report = r)));
  return evaluated && !report ? readEvalReport(ctx.b.dir) : report;
}

/** The data set: train and test splits for training, test images for verify and eval. Not found, it fails the train stage. */
function locateData({ b, job, log, p }: StageContext): BuildData | undefined {
  try {
    const located = locateFor(b.irJson, job.data, job.dataset);
    return { located, identity: dataIdentity(located) };
  } catch (e) {
    if (!(e instanceof MeanetError)) throw e;
    log.err(e.render());
    p.failed("train", null, e.render().split("\n")[0]!);
    return undefined;
  }
}

/** The summary of a build that started at `started`; `outcome` is undefined when the spec did not compile. */
export function buildSummary(model: string | null, outcome: BuildOutcome | undefined, started: number): BuildSummary {
  const stages = outcome?.stages ?? (Object.fromEntries(STAGES.map((s) => [s, { status: s === "compile" ? "failed" : "skipped", seconds: 0, reason: null }])) as Record<BuildStage, StageOutcome>);
  const failed = STAGES.find((s) => stages[s].status === "failed") ?? null;
  return {
    model,
    dir: outcome?.dir ?? null,
    ok: failed === null,
    failed,
    seconds: secondsSince(started),
    stages,
    eval: outcome?.report ? evalSummary(outcome.report, outcome.manifest) : null,
  };
}
