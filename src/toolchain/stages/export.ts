
import { exportBuild } from "../export.js";
import { VERSION } from "../package.js";
import type { Stage, StageContext } from "./stage.js";
import { sha256 } from "../../format/hash.js";

/** The export stage: one ONNX file per partition. Its inputs: the spec, the IR, the trained weights. */
export function exportStage({ b, p, tool }: StageContext): Stage {
  return {
    inputs: { tool: tool("export"), spec: p.records.compile?.key ?? "", ir: sha256(b.irText), weights: p.outputsOf("train") },
    async work() {
      const x = await exportBuild({ buildDir: b.dir, toolVersion: VERSION });
      return { outputs: Object.fromEntries(x.files.map((f) => [f.path, f.sha256])), summary: x.files.map((f) => `${f.path} (${(f.bytes / 1024).toFixed(0)} KiB)`).join(", ") };
    },
    extra: (m) => (m?.export ? undefined : "manifest.json lists no export"),
  };
}
