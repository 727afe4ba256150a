/**
 * `evaluateBuild`: evaluates a build (see evaluate.ts) and writes eval.json and report.html into
 * it, and into manifest.json the calibrated thresholds, the assertions' outcomes and both files'
 * sha256. Each file is written whole (temp file + rename); the manifest last.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { AssertionOutcome, EvalReport } from "../../format/eval.js";
import type { Manifest, ManifestArtifact } from "../../format/manifest.js";
import { sha256 } from "../../format/hash.js";
import { writeAtomic } from "../files.js";
import { evaluate, type EvaluateOptions } from "./evaluate.js";

export { evaluate, type EvaluateOptions, type Evaluation } from "./evaluate.js";

export interface EvalOutcome {
  report: EvalReport;
  /** Assertions that do not hold. */
  failed: AssertionOutcome[];
  /** Files written, inside the build directory. */
  written: string[];
}

/** Renders report.html; kept apart so that evaluation does not depend on the page's chart library. */
export type RenderHtml = (report: EvalReport) => string;

function artifact(path: string, data: string): ManifestArtifact {
  return { path, sha256: sha256(data), bytes: Buffer.byteLength(data) };
}

export async function evaluateBuild(o: EvaluateOptions & { renderHtml?: RenderHtml }): Promise<EvalOutcome> {
  const { report, routing } = await evaluate(o);
  const files: [string, string][] = [["eval.json", JSON.stringify(report, null, 1) + "\n"]];
  if (o.renderHtml) files.push(["report.html", o.renderHtml(report)]);
  for (const [path, text] of files) writeAtomic(join(o.buildDir, path), text);

  // Read the manifest again just before writing it: keep every field another stage recorded.
  const manifestPath = join(o.buildDir, "manifest.json");
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as Manifest;
  manifest.routing = routing;
  const outcome = new Map(report.assertions.map((a) => [a.text, a.status]));
  manifest.assertions = manifest.assertions.map((a) => (a.when === "eval" && outcome.has(a.text) ? { ...a, status: outcome.get(a.text) === "passed" ? "passed" : outcome.get(a.text) === "failed" ? "failed" : "pending" } : a));
  const written = new Set(files.map(([p]) => p));
  manifest.artifacts = [...manifest.artifacts.filter((a) => !written.has(a.path)), ...files.map(([p, t]) => artifact(p, t))].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  writeAtomic(manifestPath, JSON.stringify(manifest, null, 2) + "\n");
  return { report, failed: report.assertions.filter((a) => a.status === "failed"), written: files.map(([p]) => p) };
}
