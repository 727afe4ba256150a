import { ROUTER_PROGRAM_OPTIONS } from "../format/routerOptions.js";
import { startEmbeddedCloud } from "../runtime/infer/embedded.js";
import { cloudFailureNotice, formatRunReport, isRunError, routedRun, RUN_FLAGS, RunFlagError, runErrorLine, runOptionsFromFlags } from "../runtime/infer/run.js";
import { parseCommandArgs } from "./args.js";
import { EXIT_ERRORS, EXIT_OK, UsageError, type Io } from "./io.js";

export const usage = `usage: meanet run DIR/<model> ${ROUTER_PROGRAM_OPTIONS}`;

/**
 * `meanet run DIR/<model>`: classifies the test images of the build's data set through the routed
 * path (edge files here, the cloud over HTTP) and reports accuracy, exits, degraded inputs,
 * latency and edge energy. Without --cloud it serves the cloud model itself on a loopback port.
 */
export async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { ...RUN_FLAGS, help: { type: "boolean", short: "h" } }, usage, { min: 0, max: 1 });
  if (values.help) {
    io.out(usage);
    return EXIT_OK;
  }
  if (positionals.length !== 1) throw new UsageError(usage);
  let options: ReturnType<typeof runOptionsFromFlags>;
  try {
    options = runOptionsFromFlags(values);
  } catch (e) {
    if (e instanceof RunFlagError) throw new UsageError(`${e.message}\n${usage}`);
    if (isRunError(e)) {
      io.err(runErrorLine(e));
      return EXIT_ERRORS;
    }
    throw e;
  }
  try {
    const report = await routedRun({ buildDir: positionals[0]!, ...options, startCloud: startEmbeddedCloud });
    io.out(values.json ? JSON.stringify(report) : formatRunReport(report));
    const notice = cloudFailureNotice(report);
    if (notice) io.err(notice.text);
    return notice?.severity === "error" ? EXIT_ERRORS : EXIT_OK;
  } catch (e) {
    if (isRunError(e)) {
      io.err(runErrorLine(e));
      return EXIT_ERRORS;
    }
    throw e;
  }
}
