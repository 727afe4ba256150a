import { join } from "node:path";
import { formatEnergy, formatSeconds, table } from "../codegen/index.js";
import { macPrecisionText, shippedPrecisions, type EvalReport, type PrecisionComparison, type PrecisionRouted, type SystemFigures } from "../format/eval.js";
// Imported here rather than through codegen/index.js: the chart library loads only for `eval`.
import { emitEvalReportHtml } from "../codegen/reportHtml/index.js";
import { EXIT_ERRORS, EXIT_OK } from "../diagnostics/index.js";
import { integerFlag } from "../runtime/argv.js";
import { evaluateBuild } from "../runtime/eval/index.js";
import { assertionDiagnostic } from "../toolchain/evalSummary.js";
import { defineCommand } from "./command.js";

export const usage = "usage: meanet eval DIR/<model> [--data DIR] [--limit N] [--report-only] [--json]";

const pct = (x: number | null) => (x === null ? "—" : `${(x * 100).toFixed(2)}%`);

function systemRow(name: string, f: SystemFigures, exits: string[]): string[] {
  return [name, pct(f.accuracy), ...exits.map((x) => pct(f.fractions[x] ?? 0)), formatEnergy(f.energyJ), formatSeconds(f.latencyS), formatEnergy(f.cloudEnergyJ)];
}

/** The summary table of `meanet eval` (and of `npm run demo`). */
export function formatEvalSummary(r: EvalReport): string {
  const exits = Object.keys(r.routed.fractions);
  const rows = [
    systemRow("routed", r.routed, exits),
    systemRow("edge only", r.baselines.edgeOnly, exits),
    systemRow("edge + extension", r.baselines.edgeWithExtension, exits),
    systemRow("cloud only", r.baselines.cloudOnly, exits),
    systemRow("entropy exit", r.baselines.entropyExit, exits),
    systemRow("oracle", r.baselines.oracle, exits),
  ];
  const lines = [
    `${r.model}: ${r.data.samples} test images of ${r.data.source}`,
    `rule: ${r.rule.join("; ")}`,
    "",
    table(["system", "accuracy", ...exits.map((x) => `at ${x}`), "edge energy", "latency", "cloud energy"], rows, [false, true, ...exits.map(() => true), true, true, true]),
    "",
    oracleLine(r),
    ...(r.gapRecovery !== undefined ? ["", ...gapLines(r)] : []),
    // `meanet build` prints an eval.json it reuses: one written before the cost model named precisions has no `files`.
    ...(r.costModel.files ? costModelLines(r) : []),
    ...(r.precision ? ["", precisionSummary(r.precision, exits, r.calibration.length > 0)] : []),
  ];
  if (r.precision && (r.calibration.length || r.assertions.length)) lines.push("");
  for (const c of r.calibration) {
    lines.push(`calibrated ${c.condition} = ${c.threshold} for ${c.target.metric} ${c.target.value}: ${c.validation.value} on ${c.validation.samples} validation images${c.met ? "" : " (target not reachable; closest taken)"}, ${c.test.value} on the test images`);
  }
  for (const a of r.assertions) lines.push(`assert ${a.text}: ${a.status}${a.value === null ? "" : ` (measured ${a.value})`}`);
  return lines.join("\n");
}

const picojoules = (j: number) => `${Number((j * 1e12).toPrecision(4))} pJ`;

/** The energy per MAC of each device, and the precision it is of: the one its files ship at. */
function costModelLines(r: EvalReport): string[] {
  const { edge, cloud } = r.costModel;
  return [`edge energy per MAC ${picojoules(edge.energyPerMacJ)}: ${macPrecisionText(r.costModel, "edge")}`, `cloud energy per MAC ${picojoules(cloud.energyPerMacJ)}: ${macPrecisionText(r.costModel, "cloud")}`];
}

function routedRow(name: string, f: PrecisionRouted, exits: string[]): string[] {
  return [name, pct(f.accuracy), ...exits.map((x) => pct(f.fractions[x] ?? 0))];
}

/** The shipped files against their float32 references: each exit, then the routed system both ways. */
export function precisionSummary(p: PrecisionComparison, exits: string[], calibrated: boolean): string {
  const shippedAt = shippedPrecisions(p);
  const exitRows = p.exits.map((x) => [x.exit, x.file, x.precision, pct(x.accuracy.shipped), pct(x.accuracy.reference), x.agreementOnClasses === undefined ? "" : pct(x.agreementOnClasses), pct(x.agreement)]);
  const { routed } = p;
  const routedRows = [routedRow(`routed, shipped (${shippedAt})`, routed.shipped, exits), routedRow("routed, float32 reference, same thresholds", routed.reference, exits)];
  const moved = routed.referenceAtCloudFraction;
  if (moved) routedRows.push(routedRow(`routed, float32 reference, same cloud fraction`, moved, exits));
  const lines = [
    `shipped (${shippedAt}) vs float32 reference on the same test images: ${p.files.map((f) => `${f.reference} in place of ${f.path}`).join(", ")}`,
    table(["exit", "file", "ships at", "accuracy", "float32 reference", "agreement, its classes", "agreement, all"], exitRows, [false, false, false, true, true, true, true]),
    "",
    table(["system", "accuracy", ...exits.map((x) => `at ${x}`)], routedRows, [false, true, ...exits.map(() => true)]),
    `thresholds: the shipped system's${calibrated ? " (calibrated on the shipped files' validation outputs)" : ""}${moved ? `; same cloud fraction: ${moved.condition.replace(/ t$/, ` ${moved.threshold}`)}, the threshold that sends as many images to the cloud` : ""}`,
    `the shipped and reference systems (same thresholds) send ${pct(routed.sameExit)} of the images to the same exit and give the same answer for ${pct(routed.agreement)}`,
  ];
  return lines.join("\n");
}

/** Which share of the oracle's gain over edge only the routed system recovers, in words when it is none. */
function oracleLine(r: EvalReport): string {
  const gain = r.oracleGainRecovered;
  if (gain === null) return "the oracle gains nothing over edge only, so there is no gain to recover";
  if (gain < 0) {
    const below = (r.baselines.edgeOnly.accuracy - r.routed.accuracy) * 100;
    return `the routed system is ${below.toFixed(2)} points below edge only (${pct(gain)} of the oracle's accuracy gain over edge only): it recovers none of it`;
  }
  return `the routed system recovers ${pct(gain)} of the oracle's accuracy gain over edge only`;
}

const CURVE_NAMES: Record<string, string> = { routed: "routed sweep", entropyExit: "entropy exit", random: "random routing" };

/** The gap recovered (PGR) at each operating point, and APGR and CPT along each curve. */
export function gapLines(r: EvalReport): string[] {
  const g = r.gapRecovery;
  if (!g) return ["gap recovered: none to recover (the cloud alone is no more accurate than the edge alone)"];
  const systems = Object.entries(g.systems).map(([name, s]) => `${name} ${pct(s.pgr)} at ${pct(s.cloudFraction)} cloud`);
  const cpt = (x: number | null) => (x === null ? "not reached" : pct(x));
  const rows = g.curves.map((c) => [CURVE_NAMES[c.system] ?? c.system, pct(c.accuracyAt?.["5"] ?? null), pct(c.accuracyAt?.["10"] ?? null), pct(c.apgr), pct(c.apgrLow), cpt(c.cpt["50"]), cpt(c.cpt["80"]), cpt(c.cpt["100"])]);
  return [
    `gap recovered (PGR: share of the cloud's gain over edge only, ${pct(g.edgeOnly)} → ${pct(g.cloudOnly)}): ${systems.join(", ")}`,
    table(["curve", "accuracy at 5% cloud", "at 10%", "APGR", "APGR 0–10%", "cloud for PGR 50%", "PGR 80%", "PGR 100%"], rows, [false, true, true, true, true, true, true, true]),
  ];
}

/**
 * `meanet eval DIR/<model>`: the routed system and its baselines on the test split, calibrated
 * thresholds, sweeps, the spec's evaluation assertions; writes eval.json and report.html. Exit 1
 * when an assertion fails (unless --report-only).
 */
export const evalCommand = defineCommand({
  usage,
  options: { data: { type: "string" }, limit: { type: "string" }, json: { type: "boolean" }, "report-only": { type: "boolean" } },
  positionals: ["DIR"],
  read: (values, [dir]) => ({ dir: dir!, data: values.data, limit: integerFlag("limit", values.limit, { min: 1 }), json: Boolean(values.json), reportOnly: Boolean(values["report-only"]) }),
  async run({ dir, data, limit, json, reportOnly }, io) {
    const outcome = await evaluateBuild({ buildDir: dir, ...(data ? { data } : {}), ...(limit ? { limit } : {}), renderHtml: emitEvalReportHtml, onProgress: (s) => io.err(s) });
    if (json) io.out(JSON.stringify(outcome.report));
    else {
      io.out(formatEvalSummary(outcome.report));
      io.out(`wrote ${outcome.written.map((f) => join(dir, f)).join(", ")}`);
    }
    for (const a of outcome.failed) io.err(assertionDiagnostic(a, reportOnly ? "warning" : "error"));
    return outcome.failed.length && !reportOnly ? EXIT_ERRORS : EXIT_OK;
  },
});
