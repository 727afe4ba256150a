import { EXIT_ERRORS, EXIT_OK } from "../diagnostics/index.js";
import { BACKEND_CHOICES } from "../runtime/train/backend.js";
import { DATASETS, TRAIN_FLAGS, trainOptionsFromFlags } from "../runtime/train/run.js";
import { buildSummary, runBuild, stageLine, type BuildOutcome, type StageStatus } from "../toolchain/build.js";
import { STAGES } from "../toolchain/buildStages.js";
import { defineCommand } from "./command.js";
import { formatEvalSummary } from "./eval.js";
import { errorsOf, loadSpec, renderDiagnostics, summary } from "../toolchain/load.js";

export const usage = `usage: meanet build FILE -o DIR [--data DIR] [--dataset ${DATASETS.join("|")}]
                    [--epochs N] [--limit-train N] [--limit-test N] [--seed S] [--backend ${BACKEND_CHOICES.join("|")}] [--workers N]
                    [--force] [--json]`;

/**
 * `meanet build FILE -o DIR`: compile → train → export → verify → eval in one command, each stage
 * reused when its inputs hash as manifest.json recorded and its files are intact. Compile errors,
 * outputs of onnxruntime that differ from tfjs, and failed evaluation assertions stop the build
 * with exit 1.
 */
export const build = defineCommand({
  usage,
  options: { out: { type: "string", short: "o" }, force: { type: "boolean" }, json: { type: "boolean" }, ...TRAIN_FLAGS },
  positionals: ["FILE"],
  required: ["out"],
  read: (values, [file]) => ({ file: file!, out: values.out!, force: Boolean(values.force), json: Boolean(values.json), job: trainOptionsFromFlags(values) }),
  async run({ file, out, force, json, job }, io) {
    const started = performance.now();
    const r = loadSpec(file);
    let outcome: BuildOutcome | undefined;
    if (errorsOf(r).length || !r.ir) {
      io.err(renderDiagnostics(r.diagnostics) + "\n\n" + summary(r.diagnostics) + "; nothing written");
      io.err(stageLine("compile", `failed: ${summary(r.diagnostics)}`));
    } else {
      if (r.diagnostics.length) io.err(renderDiagnostics(r.diagnostics));
      outcome = await runBuild({ r, outDir: out, job, force, log: io });
    }
    const result = buildSummary(r.ir?.model ?? null, outcome, started);
    const count = (s: StageStatus) => STAGES.filter((x) => result.stages[x].status === s).length;
    const what = `${count("ran")} stage${count("ran") === 1 ? "" : "s"} ran, ${count("reused")} reused, in ${result.seconds.toFixed(1)} s`;
    io.err(result.failed ? `build ${result.model ?? file} FAILED at ${result.failed}: ${what}` : `build ${result.model}: ${what}; ${result.dir}`);
    if (json) io.out(JSON.stringify(result));
    else if (outcome?.report) io.out(formatEvalSummary(outcome.report));
    return result.failed ? EXIT_ERRORS : EXIT_OK;
  },
});
