import { diagnosticToJson, EXIT_ERRORS, EXIT_OK, UsageError } from "../diagnostics/index.js";
import { defineCommand } from "./command.js";
import { errorsOf, loadSpec, renderDiagnostics, summary } from "../toolchain/load.js";

export const usage = "usage: meanet check FILE [--format text|json]";

/** `meanet check FILE`: exit 0 clean, 1 with errors, 2 on usage errors. */
export const check = defineCommand({
  usage,
  options: { format: { type: "string", default: "text" } },
  positionals: ["FILE"],
  read(values, [file]) {
    if (values.format !== "text" && values.format !== "json") throw new UsageError(`unknown format \`${values.format}\``);
    return { file: file!, format: values.format };
  },
  run({ file, format }, io) {
    const r = loadSpec(file);
    if (format === "json") {
      io.out(JSON.stringify({ diagnostics: r.diagnostics.map(diagnosticToJson) }, null, 2));
    } else if (r.diagnostics.length) {
      io.err(renderDiagnostics(r.diagnostics) + "\n\n" + summary(r.diagnostics));
    } else {
      io.out(`${file}: ok`);
    }
    return errorsOf(r).length ? EXIT_ERRORS : EXIT_OK;
  },
});
