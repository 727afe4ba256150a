import { Codes } from "../diagnostics/index.js";
import { buildFiles, keptTraining, writeBuild } from "../toolchain/buildFiles.js";
import { parseCommandArgs } from "./args.js";
import { EXIT_ERRORS, EXIT_OK, UsageError, type Io } from "./io.js";
import { errorsOf, loadSpec, renderDiagnostics, summary } from "./load.js";

export const usage = "usage: meanet compile FILE -o DIR";

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
  const trained = keptTraining(b, (line) => io.err(line));
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
