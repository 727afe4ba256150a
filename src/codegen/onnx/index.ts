export { emitOnnx, type OnnxModelInfo } from "./emit.js";
export { emitDeferralOnnx, type DeferralOnnxInfo } from "./defer.js";
export { planPartitions, exitOrder, ioName, probsName } from "./plan.js";
export type { WeightLookup, WeightTensor } from "./graph.js";
export { decodeModel, initializerBytes, IR_VERSION, OPSET } from "./proto.js";
