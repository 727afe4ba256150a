export * from "./graph.js";
export { compileSource, RULES, PASSES, type CompileResult, type FileSystem } from "./pipeline.js";
export type * from "./passes/pass.js";
export { formatBytes, formatCount } from "./passes/budgets.js";
export { compileMetric, holds } from "./passes/assertions.js";
export { classCount } from "./rules/exitWidth.js";
export { OPS, lookupOp } from "./ops/index.js";
export { DEVICE_PRESETS, LINK_PRESETS } from "../format/presets.js";
export { MEASURES, CALIBRATION_METRICS } from "./lower/route.js";
