import { tf } from "../tf.js";
import { conv2dBackpropFilterConfig } from "./conv2d_backprop_filter.js";
import { depthwiseBackpropFilterConfig } from "./depthwise_backprop_filter.js";
import { depthwiseBackpropInputConfig } from "./depthwise_backprop_input.js";

export { conv2dBackpropFilterConfig, depthwiseBackpropFilterConfig, depthwiseBackpropInputConfig };

/** The gradient kernels tfjs-backend-wasm 4.22 lacks, which training a CNN needs. */
export const wasmGradientKernels: readonly tf.KernelConfig[] = [
  conv2dBackpropFilterConfig,
  depthwiseBackpropFilterConfig,
  depthwiseBackpropInputConfig,
];

/**
 * Registers each of `wasmGradientKernels` for the 'wasm' backend unless a kernel of
 * that name is already there, so a tfjs release that ships its own wins. Idempotent;
 * returns the names registered by this call.
 *
 * Meant to run once `@tensorflow/tfjs-backend-wasm` is imported (this module does not
 * import it, so that loading stays lazy). Called earlier it still defers: the wasm
 * package's own registration, coming later, replaces ours (tfjs logs a warning).
 * Safe before or after the backend is initialised: these kernels need no setup.
 */
export function registerWasmGradientKernels(): string[] {
  const registered: string[] = [];
  for (const config of wasmGradientKernels) {
    if (tf.getKernel(config.kernelName, "wasm") !== undefined) continue;
    tf.registerKernel(config);
    registered.push(config.kernelName);
  }
  return registered;
}
