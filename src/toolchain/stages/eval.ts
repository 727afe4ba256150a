import { readFileSync } from "node:fs";
import { join } from "node:path";
// Imported here rather than through codegen/index.js: the chart library loads only for evaluation.
import { emitEvalReportHtml } from "../../codegen/reportHtml/index.js";
import { Codes, renderDiagnostics, type Diagnostic } from "../../diagnostics/index.js";
import type { AssertionOutcome, EvalReport } from "../../format/eval.js";
import type { CompileResult } from "../../ir/index.js";
import { evaluateBuild } from "../../runtime/eval/index.js";
import { hashOf } from "../buildStages.js";
import { assertionDiagnostic } from "../evalSummary.js";
import type { BuildData, Stage, StageContext } from "./stage.js";
import { sha256 } from "../../format/hash.js";

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

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

/**
 * The eval stage: the routed system and its baselines on the test split, eval.json and
 * report.html; the spec's evaluation assertions are its gate. Its inputs: the ONNX files, the
 * IR, the hard classes of training, the data, the test limit. `onReport` receives the report of
 * an evaluation that ran, whether or not its assertions held.
 */
export function evalStage({ r, b, job, log, p, tool }: StageContext, data: BuildData, onReport: (report: EvalReport) => void): Stage {
  return {
    inputs: {
      tool: tool("eval"),
      onnx: p.outputsOf("export"),
      ir: sha256(b.irText),
      trainReport: p.records.train?.outputs["train-report.json"] ?? "",
      data: hashOf([data.identity.train, data.identity.test]),
      options: hashOf({ limit: job.limitTest ?? null }),
    },
    async work() {
      const outcome = await evaluateBuild({ buildDir: b.dir, ...(job.data ? { data: job.data } : {}), ...(job.limitTest ? { limit: job.limitTest } : {}), renderHtml: emitEvalReportHtml, onProgress: p.detail });
      onReport(outcome.report);
      if (outcome.failed.length) {
        log.err(assertionFailures(r, outcome.failed, b.dir));
        return { failed: `${outcome.failed.length} of ${outcome.report.assertions.length} evaluation assertions failed` };
      }
      const routed = outcome.report.routed;
      const held = outcome.report.assertions.filter((a) => a.status === "passed").length;
      return {
        outputs: Object.fromEntries(outcome.written.map((f) => [f, sha256(readFileSync(join(b.dir, f)))])),
        summary: `routed accuracy ${pct(routed.accuracy)} on ${outcome.report.data.samples.toLocaleString("en-US")} test images (${Object.entries(routed.fractions).map(([x, f]) => `${x} ${pct(f)}`).join(", ")}); ${held} of ${outcome.report.assertions.length} assertions hold`,
      };
    },
  };
}
