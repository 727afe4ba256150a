import { join } from "node:path";
import { emitIrJson, emitManifest, emitReport, sha256, summarize, type ManifestArtifact } from "../codegen/index.js";
import { Codes } from "../diagnostics/index.js";
import { parseCommandArgs } from "./args.js";
import { EXIT_ERRORS, EXIT_OK, UsageError, type Io } from "./io.js";
import { errorsOf, loadSpec, renderDiagnostics, summary } from "./load.js";
import { VERSION } from "./version.js";
import { writeAtomic } from "./write.js";

export const usage = "usage: meanet compile FILE -o DIR";

/** `meanet compile FILE -o DIR`: writes DIR/<model>/{ir.json, report.md, manifest.json}, or nothing if the spec has errors. */
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
  const dir = join(values.out, r.ir.model);
  const files: [string, string][] = [
    ["ir.json", JSON.stringify(emitIrJson(r.ir, r.shapes, r.results), null, 1) + "\n"],
    ["report.md", emitReport(summarize(r.ir, r.results))],
  ];
  const artifacts: ManifestArtifact[] = files.map(([path, text]) => ({ path, sha256: sha256(text), bytes: Buffer.byteLength(text) }));
  const [main, ...imports] = r.sources;
  const spec = { file: main!.name, sha256: sha256(main!.text), imports: imports.map((s) => ({ file: s.name, sha256: sha256(s.text) })) };
  files.push(["manifest.json", emitManifest(r.ir, spec, VERSION, artifacts)]);
  try {
    for (const [path, text] of files) writeAtomic(join(dir, path), text);
  } catch (e) {
    io.err(`error ${Codes.OutputFailed}: cannot write to ${dir}: ${(e as Error).message}`);
    return EXIT_ERRORS;
  }
  io.out(`wrote ${dir}/{${files.map(([p]) => p).join(", ")}}`);
  return EXIT_OK;
}
