import { tf } from "../tf.js";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";

/**
 * Runs existing wasm kernels from inside one of our kernels, at the backend level.
 *
 * Going through the engine (tf ops) from inside a kernelFunc works, but creates engine
 * tensors whose lifetime the engine then has to reconcile with the kernel's output. The
 * wasm backend's own composite kernels (BatchMatMul, Reverse, …) instead call sibling
 * kernel functions directly and free intermediates with `backend.disposeData`; this
 * class does the same and remembers every intermediate so none can leak, even when a
 * kernel throws half-way.
 */
export class KernelScratch {
  private readonly intermediates: tf.TensorInfo[] = [];

  constructor(readonly backend: BackendWasm) {}

  run(kernelName: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap = {}): tf.TensorInfo {
    const kernel = tf.getKernel(kernelName, "wasm");
    if (kernel === undefined) throw new Error(`wasm kernel '${kernelName}' is not registered`);
    const out = kernel.kernelFunc({ inputs, attrs, backend: this.backend });
    if (Array.isArray(out)) throw new Error(`wasm kernel '${kernelName}' returned several outputs`);
    this.intermediates.push(out);
    return out;
  }

  /** A fresh, uninitialised float32 buffer on the wasm heap. */
  allocate(shape: number[]): tf.TensorInfo {
    const out = this.backend.makeOutput(shape, "float32");
    this.intermediates.push(out);
    return out;
  }

  zeros(shape: number[]): tf.TensorInfo {
    const out = this.allocate(shape);
    heapView(this.backend, out).fill(0);
    return out;
  }

  reshape(x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
    return this.run(tf.Reshape, { x }, { shape });
  }

  transpose(x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
    return this.run(tf.Transpose, { x }, { perm });
  }

  slice(x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
    return this.run(tf.Slice, { x }, { begin, size });
  }

  matMul(a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo {
    return this.run(tf.BatchMatMul, { a, b }, { transposeA: false, transposeB: false });
  }

  /**
   * Frees every intermediate except `result`. A result that is a reshape of an
   * intermediate shares its buffer; the buffer's reference count keeps it alive.
   */
  release(result: tf.TensorInfo | undefined): void {
    for (const t of this.intermediates) if (t !== result) this.backend.disposeData(t.dataId);
    this.intermediates.length = 0;
  }
}

/** Runs `body` with a scratch space and frees all its intermediates but the result. */
export function withScratch(backend: BackendWasm, body: (scratch: KernelScratch) => tf.TensorInfo): tf.TensorInfo {
  const scratch = new KernelScratch(backend);
  let result: tf.TensorInfo | undefined;
  try {
    result = body(scratch);
    return result;
  } finally {
    scratch.release(result);
  }
}

/** A float32 view of a tensor's buffer on the wasm heap; invalid after the next heap allocation. */
export function heapView(backend: BackendWasm, t: tf.TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(t) as Float32Array;
}

export function assertFloat32(kernelName: string, ...tensors: tf.TensorInfo[]): void {
  for (const t of tensors) {
    if (t.dtype !== "float32") throw new Error(`${kernelName} (wasm): expected float32 tensors, got ${t.dtype}`);
  }
}
