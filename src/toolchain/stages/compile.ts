import { Codes } from "../../diagnostics/index.js";
import { keptTraining } from "../buildFiles.js";
import { hashOf } from "../buildStages.js";
import type { Stage, StageContext } from "./stage.js";
import { sha256 } from "../../format/hash.js";

/**
 * The compile stage: the build's files and manifest.json, keeping what an earlier training left
 * when it still fits. Its inputs: the spec's text and that of every file it imports.
 */
export function compileStage({ r, b, log, tool, writeBuild }: StageContext): Stage {
  const [main, ...imports] = r.sources;
  return {
    inputs: { tool: tool("compile"), spec: hashOf([main!.name, sha256(main!.text)]), imports: hashOf(imports.map((s) => [s.name, sha256(s.text)])) },
    async work() {
      const trained = keptTraining(b, () => {});
      try {
        if (trained) writeBuild(trained.artifacts, { hardClasses: trained.hardClasses });
        else writeBuild();
      } catch (e) {
        log.err(`error ${Codes.OutputFailed}: cannot write to ${b.dir}: ${(e as Error).message}`);
        return { failed: `cannot write to ${b.dir}` };
      }
      return { outputs: Object.fromEntries(b.files.map(([path, data]) => [path, sha256(data)])), summary: `${b.files.length} files and manifest.json${trained ? ", keeping the trained weights" : ""}` };
    },
  };
}
