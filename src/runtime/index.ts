/** The runtime library: what generated programs and embedding applications import as `meanet/runtime`. */
export type { TrainStage, TrainingPlan, OptimizerSpec, ScheduleSpec } from "../format/ir.js";
export { runTrainingProgram } from "./train/program.js";
export { runTraining, loadTrainingData, datasetFor, type TrainJob } from "./train/run.js";
export { trainModel, type TrainReport, type StageReport } from "./train/recipe.js";
export { selectBackend, BACKEND_CHOICES, type BackendRequest } from "./train/backend.js";
export { buildBlockModel, type BlockModel } from "./train/builder.js";
export { saveModel, loadModel } from "./train/weights.js";
export { makeProgress, silentProgress, type Progress } from "./train/progress.js";
export { registerWasmGradientKernels } from "./train/kernels/index.js";
export * as data from "./train/data/index.js";
