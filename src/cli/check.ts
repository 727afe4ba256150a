import { diagnosticToJson } from "../diagnostics/index.js";
import { parseCommandArgs } from "./args.js";
import { EXIT_ERRORS, EXIT_OK, UsageError, type Io } from "./io.js";
import { errorsOf, loadSpec, renderDiagnostics, summary } from "./load.js";

export const usage = "usage: meanet check FILE [--format text|json]";

/** `meanet check FILE`: exit 0 clean, 1 with errors, 2 on usage errors. */
export function check(argv: string[], io: Io): number {
  const { values, positionals } = parseCommandArgs(argv, { format: { type: "string", default: "text" }, help: { type: "boolean", short: "h" } }, usage, { min: 0, max: 1 });
  if (values.help) {
    io.out(usage);
    return EXIT_OK;
  }
  if (positionals.length !== 1) throw new UsageError(usage);
  if (values.format !== "text" && values.format !== "json") throw new UsageError(`unknown format \`${values.format}\`\n${usage}`);
  const r = loadSpec(positionals[0]!);
  if (values.format === "json") {
    io.out(JSON.stringify({ diagnostics: r.diagnostics.map(diagnosticToJson) }, null, 2));
  } else if (r.diagnostics.length) {
    io.err(renderDiagnostics(r.diagnostics) + "\n\n" + summary(r.diagnostics));
  } else {
    io.out(`${positionals[0]}: ok`);
  }
  return errorsOf(r).length ? EXIT_ERRORS : EXIT_OK;
}
