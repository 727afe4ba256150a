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

/** The range of a value over the calibration images, after the calibration method's clipping. */
export interface ValueRange {
  min: number;
  max: number;
}

/** The spec's `quantize` section as ir.json records it; absent when the spec has none. */
export interface IrQuantize extends Calibration {
  loc: string | null;
}

/** The calibration a build asks for: the spec's, or the defaults. */
export function calibrationOf(ir: Pick<IrJson, "quantize">): Calibration {
  const q = ir.quantize;
  return q ? { method: q.method, percentile: q.percentile, images: q.images } : { ...DEFAULT_CALIBRATION };
}

/** Bytes of one weight at a precision. */
export const PRECISION_BYTES: Record<Precision, number> = { int8: 1, fp16: 2, fp32: 4 };

/**
 * A tensor an int8 edge file sends to the cloud as uint8 (`planPartitions` types it so; export
 * adds its scale and zero point). The model input, uint8 as stored, is not one. A float32
 * reference takes and gives such a tensor in float32.
 */
export function isQuantizedLink(io: { dtype: string; tensor: number }, inputTensor: number): boolean {
  return io.dtype === "uint8" && io.tensor !== inputTensor;
}

/** The element type a float32 reference takes or gives a tensor in: float32 for a quantized link, else the tensor's own. */
export function referenceDtype(io: { dtype: string; tensor: number }, inputTensor: number): string {
  return isQuantizedLink(io, inputTensor) ? "float32" : io.dtype;
}

/** The ONNX element type a device's tensors cross the link at. */
export function linkDtype(precision: Precision): "uint8" | "float16" | "float32" {
  return precision === "int8" ? "uint8" : precision === "fp16" ? "float16" : "float32";
}

/**
 * A calibration method as the command line writes it: `minmax`, `mse`, `percentile` or
 * `percentile(P)` with P in (0, 100]. The problem, as a sentence, when the text is none of them.
 */
export function parseCalibrationMethod(text: string): Pick<Calibration, "method"> & Partial<Pick<Calibration, "percentile">> | { problem: string } {
  const m = /^\s*([a-z_]+)\s*(?:\(\s*([^)]*?)\s*\))?\s*$/i.exec(text);
  const method = m?.[1]?.toLowerCase();
  if (!m || !CALIBRATION_METHODS.includes(method as CalibrationMethod)) return { problem: `unknown calibration method \`${text}\`; the methods are ${CALIBRATION_METHODS.join(", ")} and percentile(P)` };
  if (m[2] === undefined) return { method: method as CalibrationMethod };
  if (method !== "percentile") return { problem: `\`${method}\` takes no argument` };
  const p = Number(m[2]);
  if (m[2] === "" || !Number.isFinite(p) || p <= 0 || p > 100) return { problem: `the percentile must be a number in (0, 100], not \`${m[2]}\`` };
  return { method: "percentile", percentile: p };
}
