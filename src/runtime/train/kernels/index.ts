import { tf } from "../tf.js";
import { conv2dBackpropFilterConfig } from "./conv2d_backprop_filter.js";
import { conv2dBackpropInputConfig } from "./conv2d_backprop_input.js";
import { depthwiseBackpropFilterConfig } from "./depthwise_backprop_filter.js";
import { depthwiseBackpropInputConfig } from "./depthwise_backprop_input.js";
import { maxPoolGradConfig } from "./max_pool_backprop.js";
import { batchMatMulConfig } from "./batch_mat_mul.js";
import { identityConfig } from "./identity.js";

export { conv2dBackpropFilterConfig, conv2dBackpropInputConfig, depthwiseBackpropFilterConfig, depthwiseBackpropInputConfig, maxPoolGradConfig };

/** The gradient kernels tfjs-backend-wasm 4.22 lacks, which training a CNN needs. */
export const wasmGradientKernels: readonly tf.KernelConfig[] = [
  conv2dBackpropFilterConfig,
  depthwiseBackpropFilterConfig,
  depthwiseBackpropInputConfig,
];

/**
 * Kernels tfjs-backend-wasm 4.22 has, but too slow for training: its Conv2DBackpropInput
 * is a scalar loop, ~8× slower than the forward conv of the same shape; its MaxPoolGrad
 * walks every input position over every window that covers it, 2.7× slower than one pass
 * over the windows.
 */
export const wasmKernelReplacements: readonly tf.KernelConfig[] = [conv2dBackpropInputConfig, maxPoolGradConfig];

/**
 * Kernels of the backend kept but wrapped, each built from the backend's own config: BatchMatMul
 * transposes its operands first instead of multiplying transposed (XNNPACK is slow at that), and
 * Identity shares its input's buffer instead of copying it.
 */
export const wasmKernelWrappers: ReadonlyMap<string, (original: tf.KernelConfig) => tf.KernelConfig> = new Map([
  [tf.BatchMatMul, batchMatMulConfig],
  [tf.Identity, identityConfig],
]);

/** The wrappers this module registered, so that registering again is a no-op. */
const wrapped = new WeakSet<tf.KernelConfig>();

/**
 * Registers each of `wasmGradientKernels` for the 'wasm' backend unless a kernel of
 * that name is already there, so a tfjs release that ships its own wins, puts each
 * of `wasmKernelReplacements` in place of the backend's own, and wraps each kernel of
 * `wasmKernelWrappers` (once the backend's own is registered). Idempotent; returns the
 * names registered by this call.
 *
 * Meant to run once `@tensorflow/tfjs-backend-wasm` is imported (this module does not
 * import it, so that loading stays lazy). Called earlier it still defers: the wasm
 * package's own registration, coming later, replaces ours (tfjs logs a warning), the
 * replacements included.
 * Safe before or after the backend is initialised: these kernels need no setup. (A
 * replaced kernel unregistered before initialisation never gets its setup run, so it
 * cannot simply be registered back afterwards; call its `setupFunc` first.)
 */
export function registerWasmGradientKernels(): string[] {
  const registered: string[] = [];
  for (const config of wasmGradientKernels) {
    if (tf.getKernel(config.kernelName, "wasm") !== undefined) continue;
    tf.registerKernel(config);
    registered.push(config.kernelName);
  }
  for (const config of wasmKernelReplacements) {
    const current = tf.getKernel(config.kernelName, "wasm");
    if (current === config) continue;
    if (current !== undefined) tf.unregisterKernel(config.kernelName, "wasm");
    tf.registerKernel(config);
    registered.push(config.kernelName);
  }
  for (const [name, wrap] of wasmKernelWrappers) {
    const current = tf.getKernel(name, "wasm");
    if (current === undefined || wrapped.has(current)) continue;
    const config = wrap(current);
    wrapped.add(config);
    tf.unregisterKernel(name, "wasm");
    tf.registerKernel(config);
    registered.push(name);
  }
  return registered;
}
