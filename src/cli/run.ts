import { EXIT_ERRORS, EXIT_OK } from "../diagnostics/index.js";
import { ROUTER_PROGRAM_OPTIONS } from "../format/routerOptions.js";
import { startEmbeddedCloud } from "../runtime/infer/embedded.js";
import { cloudFailureNotice, formatRunReport, routedRun, RUN_FLAGS, runOptionsFromFlags } from "../runtime/infer/run.js";
import { defineCommand } from "./command.js";

export const usage = `usage: meanet run DIR/<model> ${ROUTER_PROGRAM_OPTIONS}`;

/**
 * `meanet run DIR/<model>`: classifies the test images of the build's data set through the routed
 * path (edge files here, the cloud over HTTP) and reports accuracy, exits, degraded inputs,
 * latency and edge energy. Without --cloud it serves the cloud model itself on a loopback port.
 */
export const run = defineCommand({
  usage,
  options: RUN_FLAGS,
  positionals: ["DIR"],
  read: (values, [dir]) => ({ dir: dir!, json: Boolean(values.json), options: runOptionsFromFlags(values) }),
  async run({ dir, json, options }, io) {
    const report = await routedRun({ buildDir: dir, ...options, startCloud: startEmbeddedCloud });
    io.out(json ? JSON.stringify(report) : formatRunReport(report));
    const notice = cloudFailureNotice(report);
    if (notice) io.err(notice.text);
    return notice?.severity === "error" ? EXIT_ERRORS : EXIT_OK;
  },
});
