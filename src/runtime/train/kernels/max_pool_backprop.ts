import { tf } from "../tf.js";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import type { ConvPad, RoundingMode } from "./geometry.js";
import { assertFloat32, heapView } from "./scratch.js";

interface MaxPoolGradAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: ConvPad;
  dimRoundingMode?: RoundingMode;
}

/**
 * dx of a max pool: each output's gradient goes to the input that was its window's maximum,
 * the first one in row-major window order when several tie (as tfjs' cpu backend picks it);
 * windows that overlap add up. NHWC, one pass over the windows with the channels innermost, so
 * every read and write is contiguous. The wasm backend's own MaxPoolGrad took about a fifth of a
 * training step of the example's main block.
 *
 * A window whose values are all −∞ or NaN passes no gradient, as on the cpu backend.
 */
function maxPoolGrad(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const { dy, input } = args.inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const attrs = args.attrs as unknown as MaxPoolGradAttrs;
  assertFloat32(tf.MaxPoolGrad, dy, input);
  const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  if (dy.shape.join() !== info.outShape.join()) throw new Error(`${tf.MaxPoolGrad} (wasm): dy has shape [${dy.shape.join(", ")}], expected [${info.outShape.join(", ")}]`);

  const out = backend.makeOutput(input.shape, "float32");
  // Views after the allocation, which may grow (and so move) the heap.
  const x = heapView(backend, input);
  const g = heapView(backend, dy);
  const dx = heapView(backend, out);
  dx.fill(0);
  const tiled = filterHeight === 2 && filterWidth === 2 && strideHeight === 2 && strideWidth === 2 && info.padInfo.top === 0 && info.padInfo.left === 0 && 2 * outHeight <= inHeight && 2 * outWidth <= inWidth;
  if (tiled) {
    maxPoolGrad2x2(x, g, dx, batchSize, inHeight, inWidth, outHeight, outWidth, channels);
    return out;
  }
  const best = new Float32Array(channels);
  const where = new Int32Array(channels);
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const top = oh * strideHeight - info.padInfo.top;
      const r0 = Math.max(top, 0);
      const r1 = Math.min(top + filterHeight, inHeight);
      for (let ow = 0; ow < outWidth; ow++) {
        const left = ow * strideWidth - info.padInfo.left;
        const c0 = Math.max(left, 0);
        const c1 = Math.min(left + filterWidth, inWidth);
        if (r0 >= r1 || c0 >= c1) continue; // a window entirely in the padding reads no input
        // The first input of the window starts the running maximum (−∞, NaN: none yet).
        const start = ((b * inHeight + r0) * inWidth + c0) * channels;
        for (let k = 0; k < channels; k++) {
          const v = x[start + k]!;
          const some = v > -Infinity;
          best[k] = some ? v : -Infinity;
          where[k] = some ? start + k : -1;
        }
        for (let r = r0; r < r1; r++) {
          for (let c = r === r0 ? c0 + 1 : c0; c < c1; c++) {
            const at = ((b * inHeight + r) * inWidth + c) * channels;
            for (let k = 0; k < channels; k++) {
              const v = x[at + k]!;
              if (v > best[k]!) {
                best[k] = v;
                where[k] = at + k;
              }
            }
          }
        }
        const from = ((b * outHeight + oh) * outWidth + ow) * channels;
        for (let k = 0; k < channels; k++) if (where[k]! >= 0) dx[where[k]!] += g[from + k]!;
      }
    }
  }
  return out;
}

/**
 * The common 2×2, stride-2, unpadded pool, whose windows tile the input and lie wholly inside it:
 * the same choice as the general loop (the first maximum in row-major order; none when all four
 * are −∞ or NaN), with the four candidates in locals instead of the running arrays. About 3× faster.
 */
function maxPoolGrad2x2(x: Float32Array, g: Float32Array, dx: Float32Array, batch: number, inHeight: number, inWidth: number, outHeight: number, outWidth: number, channels: number): void {
  const row = inWidth * channels;
  for (let b = 0; b < batch; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++) {
        const a0 = ((b * inHeight + 2 * oh) * inWidth + 2 * ow) * channels;
        const from = ((b * outHeight + oh) * outWidth + ow) * channels;
        for (let k = 0; k < channels; k++) {
          const i0 = a0 + k;
          const i1 = i0 + channels;
          const i2 = i0 + row;
          const i3 = i2 + channels;
          let at = -1;
          let best = -Infinity;
          const v0 = x[i0]!;
          if (v0 > best) {
            best = v0;
            at = i0;
          }
          const v1 = x[i1]!;
          if (v1 > best) {
            best = v1;
            at = i1;
          }
          const v2 = x[i2]!;
          if (v2 > best) {
            best = v2;
            at = i2;
          }
          if (x[i3]! > best) at = i3;
          if (at >= 0) dx[at]! += g[from + k]!;
        }
      }
    }
  }
}

export const maxPoolGradConfig: tf.KernelConfig = {
  kernelName: tf.MaxPoolGrad,
  backendName: "wasm",
  kernelFunc: maxPoolGrad as unknown as tf.KernelFunc,
};
