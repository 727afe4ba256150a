import { tf } from "../tf.js";
import { conv2dBackpropFilterConfig } from "./conv2d_backprop_filter.js";
import { conv2dBackpropInputConfig } from "./conv2d_backprop_input.js";
import { depthwiseBackpropFilterConfig } from "./depthwise_backprop_filter.js";
import { depthwiseBackpropInputConfig } from "./depthwise_backprop_input.js";
import { maxPoolGradConfig } from "./max_pool_backprop.js";

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
 * Registers each of `wasmGradientKernels` for the 'wasm' backend unless a kernel of
 * that name is already there, so a tfjs release that ships its own wins, and puts each
 * of `wasmKernelReplacements` in place of the backend's own. Idempotent; returns the
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
  return registered;
}
