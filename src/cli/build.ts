import { BACKEND_CHOICES } from "../runtime/train/backend.js";
import { DATASETS, TRAIN_FLAGS, TrainFlagError, trainOptionsFromFlags } from "../runtime/train/run.js";
import { buildSummary, runBuild, stageLine, type BuildOutcome, type StageStatus } from "../toolchain/build.js";
import { STAGES } from "../toolchain/buildStages.js";
import { parseCommandArgs } from "./args.js";
import { formatEvalSummary } from "./eval.js";
import { EXIT_ERRORS, EXIT_OK, UsageError, type Io } from "./io.js";
import { errorsOf, loadSpec, renderDiagnostics, summary } from "./load.js";

export const usage = `usage: meanet build FILE -o DIR [--data DIR] [--dataset ${DATASETS.join("|")}]
                    [--epochs N] [--limit-train N] [--limit-test N] [--seed S] [--backend ${BACKEND_CHOICES.join("|")}]
                    [--force] [--json]`;

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
  let outcome: BuildOutcome | undefined;
  if (errorsOf(r).length || !r.ir) {
    io.err(renderDiagnostics(r.diagnostics) + "\n\n" + summary(r.diagnostics) + "; nothing written");
    io.err(stageLine("compile", `failed: ${summary(r.diagnostics)}`));
  } else {
    if (r.diagnostics.length) io.err(renderDiagnostics(r.diagnostics));
    outcome = await runBuild({ r, outDir: values.out, job, force: Boolean(values.force), log: io });
  }
  const result = buildSummary(r.ir?.model ?? null, outcome, started);
  const count = (s: StageStatus) => STAGES.filter((x) => result.stages[x].status === s).length;
  const what = `${count("ran")} stage${count("ran") === 1 ? "" : "s"} ran, ${count("reused")} reused, in ${result.seconds.toFixed(1)} s`;
  io.err(result.failed ? `build ${result.model ?? positionals[0]} FAILED at ${result.failed}: ${what}` : `build ${result.model}: ${what}; ${result.dir}`);
  if (values.json) io.out(JSON.stringify(result));
  else if (outcome?.report) io.out(formatEvalSummary(outcome.report));
  return result.failed ? EXIT_ERRORS : EXIT_OK;
}
