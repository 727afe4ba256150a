import { summarize } from "../codegen/summary.js";
import { renderInspect } from "../codegen/table.js";
import { parseCommandArgs } from "./args.js";
import { EXIT_ERRORS, EXIT_OK, UsageError, type Io } from "./io.js";
import { errorsOf, loadSpec, renderDiagnostics, summary } from "./load.js";

export const usage = "usage: meanet inspect FILE [--json]";

/** `meanet inspect FILE`: costs per block, device and route. */
export function inspect(argv: string[], io: Io): number {
  const { values, positionals } = parseCommandArgs(argv, { json: { type: "boolean", default: false }, help: { type: "boolean", short: "h" } }, usage, { min: 0, max: 1 });
  if (values.help) {
    io.out(usage);
    return EXIT_OK;
  }
  if (positionals.length !== 1) throw new UsageError(usage);
  const r = loadSpec(positionals[0]!);
  if (errorsOf(r).length || !r.ir) {
    io.err(renderDiagnostics(r.diagnostics) + "\n\n" + summary(r.diagnostics));
    return EXIT_ERRORS;
  }
  if (r.diagnostics.length) io.err(renderDiagnostics(r.diagnostics));
  const s = summarize(r.ir, r.results);
  io.out(values.json ? JSON.stringify(s, null, 2) : renderInspect(s));
  return EXIT_OK;
}
