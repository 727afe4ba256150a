import { summarize } from "../codegen/summary.js";
import { renderInspect } from "../codegen/table.js";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { Codes, EXIT_ERRORS, EXIT_OK, MeanetError } from "../diagnostics/index.js";
import { buildsIn, readBuild } from "../format/build.js";
import { renderShipped, shippedSummary } from "../codegen/shipped.js";
import type { Io } from "./io.js";
import { defineCommand } from "./command.js";
import { errorsOf, loadSpec, renderDiagnostics, specsIn, summary } from "../toolchain/load.js";

export const usage = "usage: meanet inspect FILE|DIR/<model> [--json]";

/** An exported build: what its files ship beside what the compiler counted. */
function inspectBuild(dir: string, json: boolean, io: Io): number {
  const s = shippedSummary(readBuild(dir).manifest);
  if (!s) throw new MeanetError(Codes.BuildInvalid, `${dir}/manifest.json lists no export; run \`meanet export ${dir}\` first, or inspect the spec file`);
  io.out(json ? JSON.stringify(s, null, 2) : renderShipped(s));
  return EXIT_OK;
}

/**
 * A directory is read as a build, unless it is a folder of specs that holds no build (whose
 * error then names its .meanet files rather than a missing ir.json).
 */
function isBuildArgument(path: string): boolean {
  if (!statSync(path, { throwIfNoEntry: false })?.isDirectory()) return false;
  return ["ir.json", "manifest.json"].some((f) => existsSync(join(path, f))) || buildsIn(path).length > 0 || specsIn(path).length === 0;
}

/** `meanet inspect FILE`: costs per block, device and route; `meanet inspect DIR/<model>`: the exported files' weights beside those costs. */
export const inspect = defineCommand({
  usage,
  options: { json: { type: "boolean", default: false } },
  positionals: ["FILE"],
  read: (values, [file]) => ({ file: file!, json: values.json }),
  run({ file, json }, io) {
    if (isBuildArgument(file)) return inspectBuild(file, json, io);
    const r = loadSpec(file);
    if (errorsOf(r).length || !r.ir) {
      io.err(renderDiagnostics(r.diagnostics) + "\n\n" + summary(r.diagnostics));
      return EXIT_ERRORS;
    }
    if (r.diagnostics.length) io.err(renderDiagnostics(r.diagnostics));
    const s = summarize(r.ir, r.results);
    io.out(json ? JSON.stringify(s, null, 2) : renderInspect(s));
    return EXIT_OK;
  },
});
