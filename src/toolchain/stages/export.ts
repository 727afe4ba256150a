import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { exportBuild } from "../export.js";
import { VERSION } from "../package.js";
import type { BuildData, Stage, StageContext } from "./stage.js";
import { sha256 } from "../../format/hash.js";

/**
 * The export stage: one ONNX file per partition, at its device's precision. Its inputs: the spec,
 * the IR, the trained weights, and the training data (int8 files are calibrated on its held-out split).
 */
export function exportStage({ b, p, tool, log }: StageContext, data: BuildData): Stage {
  return {
    inputs: { tool: tool("export"), spec: p.records.compile?.key ?? "", ir: sha256(b.irText), weights: p.outputsOf("train"), data: data.identity.train },
    async work() {
      const x = await exportBuild({ buildDir: b.dir, toolVersion: VERSION, dataDir: data.located.dir, warn: (line) => log.err(line) });
      // Export adds its section to compile's report.md: the compile record takes the file as it now is.
      const compiled = p.records.compile;
      if (compiled?.outputs["report.md"] && existsSync(join(b.dir, "report.md"))) compiled.outputs["report.md"] = sha256(readFileSync(join(b.dir, "report.md")));
      return { outputs: Object.fromEntries(x.files.map((f) => [f.path, f.sha256])), summary: x.files.map((f) => `${f.path} (${(f.bytes / 1024).toFixed(0)} KiB)`).join(", ") };
    },
    extra: (m) => (m?.export ? undefined : "manifest.json lists no export"),
  };
}
