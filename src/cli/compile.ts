import { Codes, EXIT_ERRORS, EXIT_OK, MeanetError } from "../diagnostics/index.js";
import { buildFiles, keptTraining, writeBuild } from "../toolchain/buildFiles.js";
import { defineCommand } from "./command.js";
import { errorsOf, loadSpec, renderDiagnostics, summary } from "../toolchain/load.js";

export const usage = "usage: meanet compile FILE -o DIR";

/**
 * `meanet compile FILE -o DIR`: writes DIR/<model>/{ir.json, report.md, manifest.json}, or nothing if the spec has errors.
 * Compiling over a trained build keeps the hard classes and weight files training recorded, when they still fit.
 */
export const compile = defineCommand({
  usage,
  options: { out: { type: "string", short: "o" } },
  positionals: ["FILE"],
  required: ["out"],
  read: (values, [file]) => ({ file: file!, out: values.out! }),
  run({ file, out }, io) {
    const r = loadSpec(file);
    if (errorsOf(r).length || !r.ir) {
      io.err(renderDiagnostics(r.diagnostics) + "\n\n" + summary(r.diagnostics) + "; nothing written");
      return EXIT_ERRORS;
    }
    if (r.diagnostics.length) io.err(renderDiagnostics(r.diagnostics));
    const b = buildFiles(r, out);
    const trained = keptTraining(b, (line) => io.err(line));
    let written: string[];
    try {
      written = trained ? writeBuild(r, b, trained.artifacts, { hardClasses: trained.hardClasses }) : writeBuild(r, b);
    } catch (e) {
      throw new MeanetError(Codes.OutputFailed, `cannot write to ${b.dir}: ${(e as Error).message}`);
    }
    const kept = new Set(trained?.artifacts.map((a) => a.path));
    io.out(`wrote ${b.dir}/{${written.filter((p) => !kept.has(p)).join(", ")}}`);
    if (trained) io.out(`kept the training of train-report.json: hard classes ${trained.hardClasses.join(", ")}; weights/ listed in manifest.json`);
    return EXIT_OK;
  },
});
