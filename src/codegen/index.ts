export { summarize, type CostSummary } from "./summary.js";
export { renderInspect, table, formatEnergy, formatSeconds } from "./table.js";
export { emitReport } from "./report.js";
export { emitManifest, sha256, type SpecHashes } from "./manifest.js";
export type { Manifest, ManifestArtifact } from "./format/manifest.js";
export { emitIrJson } from "./irJson.js";
export type * from "./format/ir.js";
export { emitTrainProgram } from "./trainProgram.js";
