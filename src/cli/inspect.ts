import { emitIrJson } from "../codegen/irJson.js";
import { layerRows, summarize } from "../codegen/summary.js";
import { renderInspect, renderLayers } from "../codegen/table.js";
import type { IrJson } from "../format/ir.js";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { Codes, EXIT_ERRORS, EXIT_OK, MeanetError } from "../diagnostics/index.js";
import { buildsIn, readBuild } from "../format/build.js";
import { renderShipped, shippedSummary } from "../codegen/shipped.js";
import type { Io } from "./io.js";
import { defineCommand } from "./command.js";
import { errorsOf, loadSpec, renderDiagnostics, specsIn, summary } from "../toolchain/load.js";

export const usage = "usage: meanet inspect FILE|DIR/<model> [--layers] [--json]";

interface Show {
  json: boolean;
  layers: boolean;
}

/** Either form's tables (or JSON object), followed by one row per layer with `--layers` (`layers` in the JSON). */
function show(o: Show, value: object, text: string, ir: IrJson, io: Io): number {
  const rows = o.layers ? layerRows(ir) : undefined;
  if (o.json) io.out(JSON.stringify(rows ? { ...value, layers: rows } : value, null, 2));
  else io.out(rows ? `${text}\n\nLayers\n${renderLayers(rows)}` : text);
  return EXIT_OK;
}

/** An exported build: what its files ship beside what the compiler counted. */
function inspectBuild(dir: string, o: Show, io: Io): number {
  const build = readBuild(dir);
  const s = shippedSummary(build.manifest);
  if (!s) throw new MeanetError(Codes.BuildInvalid, `${dir}/manifest.json lists no export; run \`meanet export ${dir}\` first, or inspect the spec file`);
  return show(o, s, renderShipped(s), build.ir, io);
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
  options: { json: { type: "boolean", default: false }, layers: { type: "boolean", default: false } },
  positionals: ["FILE"],
  read: (values, [file]) => ({ file: file!, show: { json: values.json, layers: values.layers } }),
  run({ file, show: o }, io) {
    if (isBuildArgument(file)) return inspectBuild(file, o, io);
    const r = loadSpec(file);
    const errors = errorsOf(r);
    // Budget and assertion errors (MN4xxx) come from the last passes, after every cost is known:
    // the tables are then what explains them.
    if (!r.ir || errors.some((d) => !d.code.startsWith("MN4"))) {
      io.err(renderDiagnostics(r.diagnostics) + "\n\n" + summary(r.diagnostics));
      return EXIT_ERRORS;
    }
    if (r.diagnostics.length) io.err(renderDiagnostics(r.diagnostics) + (errors.length ? "\n\n" + summary(r.diagnostics) : ""));
    const s = summarize(r.ir, r.results);
    show(o, s, renderInspect(s), emitIrJson(r.ir, r.shapes, r.results), io);
    return errors.length ? EXIT_ERRORS : EXIT_OK;
  },
});
