/** onnxruntime-node sessions over exported files: loading with clear errors, and NHWC feeds from plain arrays. */
import * as ort from "onnxruntime-node";
import { Codes, MeanetError } from "../../diagnostics/index.js";
import { toHalfBits } from "../../format/quantize.js";

export type { InferenceSession } from "onnxruntime-node";
export { ort };

/**
 * onnxruntime-node 1.30 starts its telemetry (Microsoft's 1DS SDK) with the first session, and
 * that leaves an empty $TMPDIR/mat-debug-<pid>.log (/tmp by default) behind every process. The library reads
 * ORT_DISABLE_TELEMETRY when it sets up, which happens at the first session, so setting it here,
 * before any session is created (worker threads included), avoids both. A value the user set wins.
 */
process.env.ORT_DISABLE_TELEMETRY ??= "1";

export interface SessionOptions {
  /** Threads inside one operator; onnxruntime's default is one per core. */
  intraOpThreads?: number;
}

/** A session over the file at `path`, or over `bytes` already read from it (and checked); errors name the path. */
export async function openSession(path: string, options: SessionOptions = {}, bytes?: Uint8Array): Promise<ort.InferenceSession> {
  const o: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: "all", ...(options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads } : {}) };
  try {
    return await (bytes ? ort.InferenceSession.create(bytes, o) : ort.InferenceSession.create(path, o));
  } catch (e) {
    throw new MeanetError(Codes.BuildInvalid, `cannot load ONNX model ${path}: ${(e as Error).message.split("\n")[0]}`);
  }
}

/** Values of a tensor; float16 ones as their 16 bits. */
export type FeedData = Uint8Array | Int8Array | Uint16Array | Float32Array;

/** A tensor's values as the runtime keeps them: float16 as its 16 bits (a Uint16Array, whatever array onnxruntime gives). */
export function tensorData(t: ort.Tensor): FeedData {
  const d = t.data as FeedData;
  return t.type === "float16" && !(d instanceof Uint16Array) ? new Uint16Array(d.buffer, d.byteOffset, d.length) : d;
}

/** A tensor of the given element type, for a batch of `n`; float16 from its 16 bits, or rounded from numbers. */
export function feedTensor(dtype: string, data: FeedData, n: number, shape: number[]): ort.Tensor {
  const dims = [n, ...shape];
  switch (dtype) {
    case "uint8":
      return new ort.Tensor("uint8", data instanceof Uint8Array ? data : Uint8Array.from(data), dims);
    case "int8":
      return new ort.Tensor("int8", data instanceof Int8Array ? data : Int8Array.from(data), dims);
    case "float16":
      return new ort.Tensor("float16", data instanceof Uint16Array ? data : Uint16Array.from(data, toHalfBits), dims);
    case "float32":
      return new ort.Tensor("float32", data instanceof Float32Array ? data : Float32Array.from(data), dims);
    default:
      throw new MeanetError(Codes.BuildInvalid, `inputs of type ${dtype} are not supported by the onnxruntime path`);
  }
}
