import { summarize } from "../codegen/summary.js";
import { renderInspect } from "../codegen/table.js";
import { EXIT_ERRORS, EXIT_OK } from "../diagnostics/index.js";
import { defineCommand } from "./command.js";
import { errorsOf, loadSpec, renderDiagnostics, summary } from "../toolchain/load.js";

export const usage = "usage: meanet inspect FILE [--json]";

/** `meanet inspect FILE`: costs per block, device and route. */
export const inspect = defineCommand({
  usage,
  options: { json: { type: "boolean", default: false } },
  positionals: ["FILE"],
  read: (values, [file]) => ({ file: file!, json: values.json }),
  run({ file, json }, io) {
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
