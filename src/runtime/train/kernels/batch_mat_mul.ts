import { tf } from "../tf.js";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { withScratch } from "./scratch.js";

/**
 * The backend's BatchMatMul with the operands transposed beforehand. XNNPACK's matMul is slow with
 * `transposeA` or `transposeB`, the forms a dense layer's backward pass uses (dW = xᵀ·dy,
 * dx = dy·Wᵀ): for the example's cloud head, [128, 6272]ᵀ·[128, 10] takes 8 ms and
 * [128, 10]·[6272, 10]ᵀ 16 ms, against 3 ms and 2–4 ms with an explicit Transpose first. Plain
 * products go straight to the backend's kernel.
 */
export function batchMatMulConfig(original: tf.KernelConfig): tf.KernelConfig {
  const plain = original.kernelFunc;
  return {
    kernelName: tf.BatchMatMul,
    backendName: "wasm",
    ...(original.setupFunc ? { setupFunc: original.setupFunc } : {}),
    kernelFunc: ((args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.NamedAttrMap }) => {
      const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
      if (!transposeA && !transposeB) return plain(args);
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      return withScratch(args.backend as BackendWasm, (s) => {
        const swapLast = (t: tf.TensorInfo) => s.transpose(t, [...t.shape.keys()].map((i, _, all) => (i === all.length - 2 ? i + 1 : i === all.length - 1 ? i - 1 : i)));
        const inputs = { a: transposeA ? swapLast(a) : a, b: transposeB ? swapLast(b) : b };
        return plain({ inputs, backend: args.backend, attrs: { transposeA: false, transposeB: false } }) as tf.TensorInfo;
      });
    }) as unknown as tf.KernelFunc,
  };
}
