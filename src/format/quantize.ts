/**
 * How a partition is quantized at export: the calibration of activation ranges (the spec's
 * `quantize` section, overridable on the command line) and the precision each device ships at.
 */
import type { IrJson, Precision } from "./ir.js";

/**
 * How an activation's range is chosen from the calibration images: `minmax` the whole observed
 * range; `percentile` clips both tails at the given percentile of the observed values; `mse` the
 * clipping range that minimises the squared quantization error over the observed values.
 */
export type CalibrationMethod = "minmax" | "percentile" | "mse";

export const CALIBRATION_METHODS: readonly CalibrationMethod[] = ["minmax", "percentile", "mse"];

export interface Calibration {
  method: CalibrationMethod;
  /** For `percentile`: in (0, 100]. */
  percentile: number;
  /** How many held-out images calibrate the ranges. */
  images: number;
}

export const DEFAULT_CALIBRATION: Calibration = { method: "minmax", percentile: 99.99, images: 512 };

/** The spec's `quantize` section as ir.json records it; absent when the spec has none. */
export interface IrQuantize extends Calibration {
  loc: string | null;
}

/** The calibration a build asks for: the spec's, or the defaults. */
export function calibrationOf(ir: Pick<IrJson, "quantize">): Calibration {
  const q = ir.quantize;
  return q ? { method: q.method, percentile: q.percentile, images: q.images } : { ...DEFAULT_CALIBRATION };
}

/** The ONNX element type a device's tensors cross the link at. */
export function linkDtype(precision: Precision): "uint8" | "float16" | "float32" {
  return precision === "int8" ? "uint8" : precision === "fp16" ? "float16" : "float32";
}
