import { table } from "../codegen/index.js";
import { EXIT_ERRORS, EXIT_OK } from "../diagnostics/index.js";
import { startEmbeddedCloud } from "../runtime/infer/embedded.js";
import { routedPredict, type PredictReport } from "../runtime/infer/predict.js";
import { cloudFailureNotice, RUN_FLAGS, runOptionsFromFlags } from "../runtime/infer/run.js";
import { defineCommand } from "./command.js";

export const usage = "usage: meanet predict DIR/<model> IMAGE… [--cloud URL] [--batch N] [--token-file F] [--timeout-ms T] [--json]";

const { data: _data, limit: _limit, ...PREDICT_FLAGS } = RUN_FLAGS;

export function formatPredictReport(r: PredictReport): string {
  const rows = r.predictions.map((p) => [p.image, p.label, p.exit, p.confidence.toFixed(4), p.degraded ? `yes (sent to ${p.target})` : "no", p.edgeMs.toFixed(3), p.cloudMs.toFixed(3)]);
  return [
    `${r.model}: ${r.predictions.length} image${r.predictions.length === 1 ? "" : "s"}, cloud ${r.cloud ?? "(none)"}`,
    table(["image", "label", "exit", "confidence", "degraded", "edge ms", "cloud ms"], rows, [false, false, false, true, false, true, true]),
  ].join("\n");
}

/**
 * `meanet predict DIR/<model> IMAGE…`: classifies PNG or JPEG files through the routed path, as
 * `meanet run` classifies the test images (the same classifier, cloud client and flags; without
 * --cloud it serves the cloud model itself on a loopback port), and prints each image's answer.
 */
export const predict = defineCommand({
  usage,
  options: PREDICT_FLAGS,
  positionals: ["DIR", "IMAGE…"],
  read: (values, [dir, ...images]) => ({ dir: dir!, images, json: Boolean(values.json), options: runOptionsFromFlags(values) }),
  async run({ dir, images, json, options }, io) {
    const report = await routedPredict({ buildDir: dir, images, ...options, startCloud: startEmbeddedCloud });
    io.out(json ? JSON.stringify(report) : formatPredictReport(report));
    const notice = cloudFailureNotice(report);
    if (notice) io.err(notice.text);
    return notice?.severity === "error" ? EXIT_ERRORS : EXIT_OK;
  },
});
