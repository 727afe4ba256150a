/**
 * How a partition is quantized at export: the calibration of activation ranges (the spec's
 * `quantize` section, overridable on the command line), the precision each device ships at and
 * the element types tensors cross the link at (uint8, or float16 as its 16 bits).
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
 * A tensor an edge file sends to the cloud narrower than float32: as uint8 from an int8 edge
 * (export adds its scale and zero point), as float16 from an fp16 edge (`planPartitions` types
 * it so). The model input, uint8 as stored, is not one. A float32 reference takes and gives such a
 * tensor in float32.
 */
export function isNarrowLink(io: { dtype: string; tensor: number }, inputTensor: number): boolean {
  return (io.dtype === "uint8" || io.dtype === "float16") && io.tensor !== inputTensor;
}

/** The element type a float32 reference takes or gives a tensor in: float32 for a narrow link, else the tensor's own. */
export function referenceDtype(io: { dtype: string; tensor: number }, inputTensor: number): string {
  return isNarrowLink(io, inputTensor) ? "float32" : io.dtype;
}

/** The ONNX element type a device's tensors cross the link at. */
export function linkDtype(precision: Precision): "uint8" | "float16" | "float32" {
  return precision === "int8" ? "uint8" : precision === "fp16" ? "float16" : "float32";
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** The nearest float16 (round half to even) of a float32, as its 16 bits. */
export function toHalfBits(x: number): number {
  F32[0] = x;
  const bits = U32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    // Subnormal: the implicit bit joins the mantissa, shifted into place, rounded to even.
    const m = mant | 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = m & ((1 << shift) - 1);
    let out = m >>> shift;
    if (rest > half || (rest === half && out & 1)) out++;
    return sign | out;
  }
  let out = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && out & 1)) out++;
  return sign | out;
}

/** The float32 value of a float16 given as its 16 bits (exact). */
export function fromHalfBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return exp === 0 ? sign * mant * 2 ** -24 : sign * (1024 + mant) * 2 ** (exp - 25);
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
