import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { AssertionOutcome, EvalReport } from "../format/eval.js";
import type { BuildStage, Manifest, StageRecord } from "../format/manifest.js";
import { emitEvalReportHtml } from "../codegen/reportHtml.js";
import { Codes, type Diagnostic, MeanetError } from "../diagnostics/index.js";
import type { CompileResult } from "../ir/index.js";
import { evaluateBuild } from "../runtime/eval/index.js";
import { exportBuild } from "../toolchain/export.js";
import { verifyBuild } from "../runtime/export/verify.js";
import { BACKEND_CHOICES, selectBackend } from "../runtime/train/backend.js";
import { take } from "../runtime/train/data/dataset.js";
import { datasetFor, loadSplit, locateDataset, type LocatedDataset } from "../runtime/train/data/locate.js";
import { makeProgress } from "../runtime/train/progress.js";
import { DATASETS, runTraining, TRAIN_FLAGS, TrainFlagError, trainOptionsFromFlags, type TrainJob } from "../runtime/train/run.js";
import { parseCommandArgs } from "./args.js";
import { artifactOf, buildFiles, previousStages, writeBuild, type BuildFiles } from "./buildFiles.js";
import { buildState, dataIdentity, hashOf, keyOf, sha256Of, stageRecord, STAGES, trainingView, whyRun, type StageInputs } from "./buildStages.js";
import { keptTraining } from "./compile.js";
import { assertionDiagnostic, formatEvalSummary } from "./eval.js";
import { EXIT_ERRORS, EXIT_OK, UsageError, type Io } from "./io.js";
import { errorsOf, loadSpec, renderDiagnostics, summary } from "./load.js";
import { toolKey } from "./toolKey.js";
import { VERSION } from "./version.js";
import { writeAtomic } from "./write.js";

export const usage = `usage: meanet build FILE -o DIR [--data DIR] [--dataset ${DATASETS.join("|")}]
                    [--epochs N] [--limit-train N] [--limit-test N] [--seed S] [--backend ${BACKEND_CHOICES.join("|")}]
                    [--force] [--json]`;

/** The checks of the verify stage: those of `meanet verify` by default. */
export const VERIFY_SETTINGS = { randomSamples: 4, real: 64, seed: 0, tolerance: 1e-4 } as const;

export type StageStatus = "ran" | "reused" | "failed" | "skipped";

export interface StageOutcome {
  status: StageStatus;
  seconds: number;
  /** Why the stage ran (`changed: data`, `no earlier run`, `--force`, a missing file); null when it did not. */
  reason: string | null;
}

/** The figures of the eval stage in the JSON line of `meanet build --json`. */
export interface BuildEvalSummary {
  samples: number;
  source: string;
  accuracy: number;
  fractions: Record<string, number>;
  cloudFraction: number;
  energyJ: number;
  latencyS: number;
  oracleGainRecovered: number | null;
  calibration: { condition: string; threshold: number }[];
  assertions: { text: string; loc: string | null; status: AssertionOutcome["status"]; value: number | null }[];
}

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

/** What a stage did: the files it wrote (path → sha256) and one line about it; or why it failed, already reported. */
type Work = { outputs: Record<string, string>; summary: string } | { failed: string };

const seconds = (from: number) => Number(((performance.now() - from) / 1000).toFixed(2));
const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

/** Errors a stage reports as a located or coded message and fails on; anything else is a bug. */
function knownFailure(e: unknown): string | undefined {
  if (e instanceof MeanetError) return e.render();
  return undefined;
}

/** The stages of one build directory: which ran, which were reused, and the records kept in manifest.json. */
class Pipeline {
  readonly outcomes = Object.fromEntries(STAGES.map((s) => [s, { status: "skipped", seconds: 0, reason: null }])) as Record<BuildStage, StageOutcome>;
  readonly records: Partial<Record<BuildStage, StageRecord>>;

  constructor(
    readonly dir: string,
    private readonly io: Io,
    readonly force: boolean,
  ) {
    this.records = { ...previousStages(dir) };
  }

  manifest(): Manifest | undefined {
    try {
      return JSON.parse(readFileSync(join(this.dir, "manifest.json"), "utf8")) as Manifest;
    } catch {
      return undefined;
    }
  }

  line(stage: BuildStage, text: string): void {
    this.io.err(`${stage.padEnd(8)}${text}`);
  }

  /** A stage's own lines (training epochs, evaluation steps), indented above its stage line; a terminal gets training's progress bar. */
  detail = (text: string): void => {
    if (this.io.isTty) process.stderr.write(text.endsWith("\n") || text.startsWith("\r") ? text : `${text}\n`);
    else for (const l of text.replace(/\n$/, "").split("\n")) this.io.err(`  ${l}`);
  };

  /** Writes the records into manifest.json, in stage order, keeping every other field. */
  private persist(): void {
    const m = this.manifest();
    if (!m) return;
    const { artifacts, stages: _previous, ...rest } = m;
    const stages = Object.fromEntries(STAGES.filter((s) => this.records[s]).map((s) => [s, this.records[s]]));
    writeAtomic(join(this.dir, "manifest.json"), JSON.stringify({ ...rest, stages, artifacts }, null, 2) + "\n");
  }

  failed(stage: BuildStage, reason: string | null, message: string, from = performance.now()): false {
    this.outcomes[stage] = { status: "failed", seconds: seconds(from), reason };
    this.line(stage, `failed${reason ? ` (${reason})` : ""}: ${message}`);
    return false;
  }

  /**
   * Reuses a stage when its record holds (and `extra`, a check of the manifest, finds nothing
   * wrong), else runs it. A stage drops its record before it starts and records its key only
   * when it finishes, so a stage that fails or is interrupted runs again next time.
   */
  async stage(name: BuildStage, inputs: StageInputs, work: () => Promise<Work>, extra?: (m: Manifest | undefined) => string | undefined): Promise<boolean> {
    const m = this.manifest();
    const reason = whyRun(this.records[name], inputs, buildState(this.dir, m), this.force) ?? extra?.(m);
    if (reason === undefined) {
      this.outcomes[name] = { status: "reused", seconds: 0, reason: null };
      this.line(name, "reused (inputs unchanged)");
      return true;
    }
    if (this.records[name]) {
      delete this.records[name];
      this.persist();
    }
    const started = performance.now();
    let result: Work;
    try {
      result = await work();
    } catch (e) {
      const message = knownFailure(e);
      if (message === undefined) throw e;
      this.io.err(message);
      result = { failed: message.split("\n")[0]! };
    }
    if ("failed" in result) return this.failed(name, reason, result.failed, started);
    this.records[name] = stageRecord(inputs, result.outputs);
    this.persist();
    this.outcomes[name] = { status: "ran", seconds: seconds(started), reason };
    this.line(name, `ran in ${seconds(started).toFixed(1)} s (${reason}): ${result.summary}`);
    return true;
  }

  /** The files a finished stage wrote, as one hash (a later stage's input). */
  outputsOf(stage: BuildStage): string {
    return hashOf(this.records[stage]?.outputs ?? null);
  }
}

/** Failed evaluation assertions as diagnostics at the assert lines of the spec, with a code frame. */
function assertionFailures(r: CompileResult, failed: AssertionOutcome[], dir: string): string {
  const located: Diagnostic[] = [];
  const plain: string[] = [];
  for (const a of failed) {
    const at = r.ir?.assertions.find((x) => x.when === "eval" && x.text === a.text);
    if (!at) {
      plain.push(assertionDiagnostic(a));
      continue;
    }
    located.push({
      code: Codes.AssertionFailed,
      severity: "error",
      message: `assertion failed: \`${a.text}\`; measured ${a.metric} = ${a.value}`,
      span: at.span,
      hint: `the measured figures are in ${join(dir, "eval.json")} and ${join(dir, "report.html")}`,
    });
  }
  return [renderDiagnostics(located), ...plain].filter(Boolean).join("\n\n");
}

function evalSummary(report: EvalReport, manifest: Manifest | undefined): BuildEvalSummary {
  const cloudExits = new Set((manifest?.export?.partitions ?? []).filter((p) => p.device === "cloud").flatMap((p) => p.exits));
  const cloudFraction = Object.entries(report.routed.fractions).reduce((s, [x, f]) => s + (cloudExits.has(x) ? f : 0), 0);
  return {
    samples: report.data.samples,
    source: report.data.source,
    accuracy: report.routed.accuracy,
    fractions: report.routed.fractions,
    cloudFraction: Number(cloudFraction.toFixed(6)),
    energyJ: report.routed.energyJ,
    latencyS: report.routed.latencyS,
    oracleGainRecovered: report.oracleGainRecovered,
    calibration: report.calibration.map((c) => ({ condition: c.condition, threshold: c.threshold })),
    assertions: report.assertions.map((a) => ({ text: a.text, loc: a.loc, status: a.status, value: a.value })),
  };
}

function readEvalReport(dir: string): EvalReport | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, "eval.json"), "utf8")) as EvalReport;
  } catch {
    return undefined;
  }
}

/** The modules whose code each stage runs (under dist/): their code is the stage's `tool` input. */
export const STAGE_CODE: Record<BuildStage, readonly string[]> = {
  compile: ["cli/load.js", "cli/buildFiles.js", "cli/compile.js"],
  train: ["runtime/train/run.js"],
  export: ["toolchain/export.js"],
  verify: ["runtime/export/verify.js"],
  eval: ["runtime/eval/index.js", "codegen/reportHtml.js"],
};

/** The work of each stage, in order; each returns false when the build stops there. */
async function runStages(p: Pipeline, r: CompileResult, b: BuildFiles, job: Omit<TrainJob, "buildDir" | "progress">, io: Io): Promise<{ report: EvalReport | undefined }> {
  const tool = (stage: BuildStage) => toolKey(STAGE_CODE[stage]);
  const [main, ...imports] = r.sources;
  const compileInputs = { tool: tool("compile"), spec: hashOf([main!.name, sha256Of(main!.text)]), imports: hashOf(imports.map((s) => [s.name, sha256Of(s.text)])) };
  const compiled = await p.stage("compile", compileInputs, async () => {
    const trained = keptTraining(b, { ...io, err: () => {} });
    try {
      if (trained) writeBuild(r, b, trained.artifacts, { hardClasses: trained.hardClasses });
      else writeBuild(r, b);
    } catch (e) {
      io.err(`error ${Codes.OutputFailed}: cannot write to ${b.dir}: ${(e as Error).message}`);
      return { failed: `cannot write to ${b.dir}` };
    }
    return { outputs: Object.fromEntries(b.files.map(([path, data]) => [path, sha256Of(data)])), summary: `${b.files.length} files and manifest.json${trained ? ", keeping the trained weights" : ""}` };
  });
  if (!compiled) return { report: undefined };

  // The data set: train and test splits for training, test images for verify and eval.
  let located: LocatedDataset;
  let data: { train: string; test: string };
  try {
    located = locateDataset(datasetFor(b.irJson, job.dataset), job.data);
    data = dataIdentity(located);
  } catch (e) {
    const message = knownFailure(e);
    if (message === undefined) throw e;
    io.err(message);
    p.failed("train", null, message.split("\n")[0]!);
    return { report: undefined };
  }
  const irSha = sha256Of(b.irText);

  const trainInputs = {
    tool: tool("train"),
    model: hashOf(trainingView(b.irJson)),
    data: hashOf([data.train, data.test]),
    options: hashOf({ epochs: job.epochs ?? null, limitTrain: job.limitTrain ?? null, limitTest: job.limitTest ?? null, seed: job.seed ?? null, backend: job.backend ?? "auto" }),
  };
  // A record means the last training finished (a stage drops its record when it starts), so a
  // checkpoint beside a record of other inputs is that training's, and would be resumed as this one's.
  const finished = p.records.train;
  const trained = await p.stage("train", trainInputs, async () => {
    if (p.force || (finished && finished.key !== keyOf(trainInputs))) rmSync(join(b.dir, "checkpoint"), { recursive: true, force: true });
    const report = await runTraining({ buildDir: b.dir, progress: makeProgress(p.detail, io.isTty), ...job });
    const extra = [artifactOf("train-report.json", readFileSync(join(b.dir, "train-report.json")))];
    for (const block of b.irJson.blocks) {
      for (const f of ["model.json", "weights.bin"]) extra.push(artifactOf(`weights/${block.name}/${f}`, readFileSync(join(b.dir, "weights", block.name, f))));
    }
    writeBuild(r, b, extra, { hardClasses: report.hardClasses.labels });
    const exits = report.exits.map((x) => `${x.name} ${pct(x.accuracy)}`).join(", ");
    return {
      outputs: Object.fromEntries(extra.map((a) => [a.path, a.sha256])),
      summary: `${report.stages.length} stages on ${report.data.train.toLocaleString("en-US")} images (${report.backend}); test accuracy ${exits}; hard classes ${report.hardClasses.labels.join(", ")}`,
    };
  });
  if (!trained) return { report: undefined };

  const exportInputs = { tool: tool("export"), spec: keyOf(compileInputs), ir: irSha, weights: p.outputsOf("train") };
  const exported = await p.stage(
    "export",
    exportInputs,
    async () => {
      const x = await exportBuild({ buildDir: b.dir, toolVersion: VERSION });
      return { outputs: Object.fromEntries(x.files.map((f) => [f.path, f.sha256])), summary: x.files.map((f) => `${f.path} (${(f.bytes / 1024).toFixed(0)} KiB)`).join(", ") };
    },
    (m) => (m?.export ? undefined : "manifest.json lists no export"),
  );
  if (!exported) return { report: undefined };

  const backend = job.backend ?? "auto";
  const verifyInputs = { tool: tool("verify"), onnx: p.outputsOf("export"), weights: p.outputsOf("train"), ir: irSha, data: data.test, options: hashOf({ ...VERIFY_SETTINGS, backend }) };
  const verified = await p.stage("verify", verifyInputs, async () => {
    const used = await selectBackend(backend);
    const test = take(loadSplit(located, "test"), VERIFY_SETTINGS.real);
    const { randomSamples, seed, tolerance } = VERIFY_SETTINGS;
    const v = await verifyBuild({ buildDir: b.dir, randomSamples, seed, tolerance, real: { values: test.images, count: test.count, source: located.kind } });
    const worst = Math.max(...v.checks.map((c) => c.maxAbsDiff));
    if (!v.ok) {
      for (const c of v.checks.filter((x) => !x.ok)) {
        io.err(`error: ${c.partition} output ${c.output} (${c.inputs} inputs, ${c.mode}) differs from tfjs by ${c.maxAbsDiff.toExponential(2)}, above the tolerance ${tolerance}`);
      }
      return { failed: `${v.checks.filter((c) => !c.ok).length} of ${v.checks.length} outputs differ from tfjs (${used}) by more than ${tolerance}` };
    }
    return { outputs: {}, summary: `${v.checks.length} outputs of onnxruntime within ${tolerance} of tfjs (${used}), largest difference ${worst.toExponential(2)}, on ${randomSamples} random and ${test.count} real inputs` };
  });
  if (!verified) return { report: undefined };

  let report: EvalReport | undefined;
  const evalInputs = { tool: tool("eval"), onnx: p.outputsOf("export"), ir: irSha, trainReport: p.records.train?.outputs["train-report.json"] ?? "", data: hashOf([data.train, data.test]), options: hashOf({ limit: job.limitTest ?? null }) };
  const evaluated = await p.stage("eval", evalInputs, async () => {
    const outcome = await evaluateBuild({ buildDir: b.dir, ...(job.data ? { data: job.data } : {}), ...(job.limitTest ? { limit: job.limitTest } : {}), renderHtml: emitEvalReportHtml, onProgress: p.detail });
    report = outcome.report;
    if (outcome.failed.length) {
      io.err(assertionFailures(r, outcome.failed, b.dir));
      return { failed: `${outcome.failed.length} of ${outcome.report.assertions.length} evaluation assertions failed` };
    }
    const routed = outcome.report.routed;
    const held = outcome.report.assertions.filter((a) => a.status === "passed").length;
    return {
      outputs: Object.fromEntries(outcome.written.map((f) => [f, sha256Of(readFileSync(join(b.dir, f)))])),
      summary: `routed accuracy ${pct(routed.accuracy)} on ${outcome.report.data.samples.toLocaleString("en-US")} test images (${Object.entries(routed.fractions).map(([x, f]) => `${x} ${pct(f)}`).join(", ")}); ${held} of ${outcome.report.assertions.length} assertions hold`,
    };
  });
  if (evaluated && !report) report = readEvalReport(b.dir);
  return { report };
}

/**
 * `meanet build FILE -o DIR`: compile → train → export → verify → eval in one command, each stage
 * reused when its inputs hash as manifest.json recorded and its files are intact. Compile errors,
 * outputs of onnxruntime that differ from tfjs, and failed evaluation assertions stop the build
 * with exit 1.
 */
export async function build(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    { out: { type: "string", short: "o" }, force: { type: "boolean" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" }, ...TRAIN_FLAGS },
    usage,
    { min: 0, max: 1 },
  );
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
  const started = performance.now();
  const r = loadSpec(positionals[0]!);
  let p: Pipeline | undefined;
  let b: BuildFiles | undefined;
  let report: EvalReport | undefined;
  if (errorsOf(r).length || !r.ir) {
    io.err(renderDiagnostics(r.diagnostics) + "\n\n" + summary(r.diagnostics) + "; nothing written");
    io.err(`${"compile".padEnd(8)}failed: ${summary(r.diagnostics)}`);
  } else {
    if (r.diagnostics.length) io.err(renderDiagnostics(r.diagnostics));
    b = buildFiles(r, values.out);
    p = new Pipeline(b.dir, io, Boolean(values.force));
    ({ report } = await runStages(p, r, b, job, io));
  }

  const stages = p?.outcomes ?? (Object.fromEntries(STAGES.map((s) => [s, { status: s === "compile" ? "failed" : "skipped", seconds: 0, reason: null }])) as Record<BuildStage, StageOutcome>);
  const failed = STAGES.find((s) => stages[s].status === "failed") ?? null;
  const result: BuildSummary = {
    model: r.ir?.model ?? null,
    dir: b?.dir ?? null,
    ok: failed === null,
    failed,
    seconds: seconds(started),
    stages,
    eval: report ? evalSummary(report, p?.manifest()) : null,
  };
  const count = (s: StageStatus) => STAGES.filter((x) => stages[x].status === s).length;
  const what = `${count("ran")} stage${count("ran") === 1 ? "" : "s"} ran, ${count("reused")} reused, in ${result.seconds.toFixed(1)} s`;
  io.err(failed ? `build ${result.model ?? positionals[0]} FAILED at ${failed}: ${what}` : `build ${result.model}: ${what}; ${b!.dir}`);
  if (values.json) io.out(JSON.stringify(result));
  else if (report) io.out(formatEvalSummary(report));
  return failed ? EXIT_ERRORS : EXIT_OK;
}
