/** Routed inference, importable without tfjs as `meanet/runtime/infer`: what generated routers and edge applications use. */
export { Router, type Classification, type RouterOptions } from "./router.js";
export { CloudClient, CloudError, type CloudOptions, type Datatype, type ExpectedOutput, type InferInput, type InferOutput } from "./client.js";
export { decide, rulesFromManifest, thresholdsOf, NeedExit, ExitUnavailable, type ExitView, type Rule } from "../../format/rules.js";
export { entropy, margin, maxProb, argmax, hardMass, measureOf } from "../../format/measures.js";
export {
  loadThresholds,
  openRoutedClassifier,
  routedRun,
  runSamples,
  runRouterProgram,
  loadTestSamples,
  formatRunReport,
  type RoutedClassifier,
  type RoutedClassifierOptions,
  type RunReport,
  type Samples,
} from "./run.js";
export { routedPredict, imageInputs, type Prediction, type PredictOptions, type PredictReport } from "./predict.js";
