/**
 * Element types as the Open Inference Protocol names them ("UINT8", "FP32", …) next to the ONNX /
 * manifest names ("uint8", "float32", …), with the range a JSON number must fall in to be stored
 * without silently wrapping or rounding to infinity. FP16 values are kept as their 16 bits.
 */
import { fromHalfBits, toHalfBits } from "../../format/quantize.js";

export type ElementArray = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array;

export interface Datatype {
  /** The manifest's and onnxruntime's name. */
  dtype: "uint8" | "int8" | "uint16" | "int16" | "uint32" | "int32" | "float16" | "float32" | "float64";
  /** The protocol's name. */
  name: string;
  integer: boolean;
  min: number;
  max: number;
  bytes: number;
  create(length: number): ElementArray;
  /** The element a JSON number is stored as when it is not the number itself (FP16: its 16 bits, rounded to nearest even). */
  encode?(v: number): number;
  /** The number an element stands for when it is not the element itself (FP16: decoded from its 16 bits). */
  decode?(e: number): number;
  /** A view of little-endian bytes (the binary tensor extension); copies when the offset is misaligned. */
  view(bytes: Buffer): ElementArray;
}

function viewOf<T extends ElementArray>(Ctor: { new (b: ArrayBufferLike, o: number, n: number): T; new (n: number): T; BYTES_PER_ELEMENT: number }) {
  return (b: Buffer): T => {
    const n = b.byteLength / Ctor.BYTES_PER_ELEMENT;
    if (b.byteOffset % Ctor.BYTES_PER_ELEMENT === 0) return new Ctor(b.buffer, b.byteOffset, n);
    const copy = new Ctor(n);
    new Uint8Array(copy.buffer).set(b);
    return copy;
  };
}

const FLOAT32_MAX = 3.4028234663852886e38;
const FLOAT16_MAX = 65504;

const TYPES: Datatype[] = [
  { dtype: "uint8", name: "UINT8", integer: true, min: 0, max: 255, bytes: 1, create: (n) => new Uint8Array(n), view: viewOf(Uint8Array) },
  { dtype: "int8", name: "INT8", integer: true, min: -128, max: 127, bytes: 1, create: (n) => new Int8Array(n), view: viewOf(Int8Array) },
  { dtype: "uint16", name: "UINT16", integer: true, min: 0, max: 65535, bytes: 2, create: (n) => new Uint16Array(n), view: viewOf(Uint16Array) },
  { dtype: "int16", name: "INT16", integer: true, min: -32768, max: 32767, bytes: 2, create: (n) => new Int16Array(n), view: viewOf(Int16Array) },
  { dtype: "uint32", name: "UINT32", integer: true, min: 0, max: 4294967295, bytes: 4, create: (n) => new Uint32Array(n), view: viewOf(Uint32Array) },
  { dtype: "int32", name: "INT32", integer: true, min: -2147483648, max: 2147483647, bytes: 4, create: (n) => new Int32Array(n), view: viewOf(Int32Array) },
  { dtype: "float16", name: "FP16", integer: false, min: -FLOAT16_MAX, max: FLOAT16_MAX, bytes: 2, create: (n) => new Uint16Array(n), view: viewOf(Uint16Array), encode: toHalfBits, decode: fromHalfBits },
  { dtype: "float32", name: "FP32", integer: false, min: -FLOAT32_MAX, max: FLOAT32_MAX, bytes: 4, create: (n) => new Float32Array(n), view: viewOf(Float32Array) },
  { dtype: "float64", name: "FP64", integer: false, min: -Number.MAX_VALUE, max: Number.MAX_VALUE, bytes: 8, create: (n) => new Float64Array(n), view: viewOf(Float64Array) },
];

const BY_DTYPE = new Map(TYPES.map((t) => [t.dtype as string, t]));

/** The protocol datatype of a manifest dtype, or undefined when the server cannot carry it (int64, bool, strings). */
export function datatypeOf(dtype: string): Datatype | undefined {
  return BY_DTYPE.get(dtype);
}

export const SUPPORTED_DTYPES: readonly string[] = TYPES.map((t) => t.dtype);
