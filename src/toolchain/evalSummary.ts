/** The figures of an evaluation as `meanet build` and `meanet eval` report them. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Codes } from "../diagnostics/index.js";
import type { AssertionOutcome, EvalReport } from "../format/eval.js";
import type { Manifest } from "../format/manifest.js";

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

export function evalSummary(report: EvalReport, manifest: Manifest | undefined): BuildEvalSummary {
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

/** The eval.json an earlier evaluation wrote, if it is there and reads. */
export function readEvalReport(dir: string): EvalReport | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, "eval.json"), "utf8")) as EvalReport;
  } catch {
    return undefined;
  }
}

/** A failed assertion as a located diagnostic line; a warning when it does not fail the command. */
export function assertionDiagnostic(a: AssertionOutcome, severity: "error" | "warning" = "error"): string {
  return `${a.loc ?? "<spec>"}: ${severity} ${Codes.AssertionFailed}: assertion failed: \`${a.text}\`; measured ${a.metric} = ${a.value}`;
}
