import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ManifestArtifact } from "../codegen/index.js";
import { Codes, MeanetError } from "../diagnostics/index.js";
import { fittingHardClasses } from "../format/hardClasses.js";
import { changedBlocks, readTrainRecord } from "../format/trainReport.js";
import { parseCommandArgs } from "./args.js";
import { artifactOf, buildFiles, writeBuild, type BuildFiles } from "./buildFiles.js";
import { EXIT_ERRORS, EXIT_OK, UsageError, type Io } from "./io.js";
import { errorsOf, loadSpec, renderDiagnostics, summary } from "./load.js";

export const usage = "usage: meanet compile FILE -o DIR";

interface Trained {
  hardClasses: string[];
  artifacts: ManifestArtifact[];
}

/**
 * What an earlier `meanet train` left in the build and still fits the spec: the hard classes of
 * train-report.json and the weight files, kept in the manifest as training wrote them. Weights
 * trained for another version of the spec are left out, with a note.
 */
export function keptTraining(b: BuildFiles, io: Io): Trained | undefined {
  let record;
  try {
    record = readTrainRecord(b.dir);
  } catch (e) {
    if (!(e instanceof MeanetError)) throw e;
    io.err(`note: ${e.message}; the manifest lists no trained state`);
    return undefined;
  }
  if (!record) return undefined;
  const changed = changedBlocks(record, b.irJson);
  const hardClasses = fittingHardClasses(record.hardClasses, b.irJson);
  const files = b.irJson.blocks.flatMap((block) => ["model.json", "weights.bin"].map((f) => `weights/${block.name}/${f}`));
  const missing = files.filter((f) => !existsSync(join(b.dir, f)));
  if (changed.length || !hardClasses || missing.length) {
    const why = changed.length ? `block${changed.length > 1 ? "s" : ""} ${changed.map((c) => `\`${c}\``).join(", ")} changed since training` : missing.length ? `${missing[0]} is missing` : "its hard classes do not fit the spec";
    io.err(`note: the weights in ${b.dir} do not fit this spec (${why}); run meanet train again`);
    return undefined;
  }
  const artifacts = [artifactOf("train-report.json", readFileSync(record.path)), ...files.map((f) => artifactOf(f, readFileSync(join(b.dir, f))))];
  return { hardClasses, artifacts };
}

/**
 * `meanet compile FILE -o DIR`: writes DIR/<model>/{ir.json, report.md, manifest.json}, or nothing if the spec has errors.
 * Compiling over a trained build keeps the hard classes and weight files training recorded, when they still fit.
 */
export function compile(argv: string[], io: Io): number {
  const { values, positionals } = parseCommandArgs(argv, { out: { type: "string", short: "o" }, help: { type: "boolean", short: "h" } }, usage, { min: 0, max: 1 });
  if (values.help) {
    io.out(usage);
    return EXIT_OK;
  }
  if (positionals.length !== 1 || !values.out) throw new UsageError(usage);
  const r = loadSpec(positionals[0]!);
  if (errorsOf(r).length || !r.ir) {
    io.err(renderDiagnostics(r.diagnostics) + "\n\n" + summary(r.diagnostics) + "; nothing written");
    return EXIT_ERRORS;
  }
  if (r.diagnostics.length) io.err(renderDiagnostics(r.diagnostics));
  const b = buildFiles(r, values.out);
  const trained = keptTraining(b, io);
  let written: string[];
  try {
    written = trained ? writeBuild(r, b, trained.artifacts, { hardClasses: trained.hardClasses }) : writeBuild(r, b);
  } catch (e) {
    io.err(`error ${Codes.OutputFailed}: cannot write to ${b.dir}: ${(e as Error).message}`);
    return EXIT_ERRORS;
  }
  const kept = new Set(trained?.artifacts.map((a) => a.path));
  io.out(`wrote ${b.dir}/{${written.filter((p) => !kept.has(p)).join(", ")}}`);
  if (trained) io.out(`kept the training of train-report.json: hard classes ${trained.hardClasses.join(", ")}; weights/ listed in manifest.json`);
  return EXIT_OK;
}
