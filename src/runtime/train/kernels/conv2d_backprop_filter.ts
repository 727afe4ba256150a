import { tf } from "../tf.js";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { assertShape, convGeometry, type ConvGeometry, type ConvPad, type RoundingMode } from "./geometry.js";
import { assertFloat32, withScratch, type KernelScratch } from "./scratch.js";

interface Conv2DBackpropFilterAttrs {
  strides: number | [number, number];
  pad: ConvPad;
  dataFormat: "NHWC" | "NCHW";
  dimRoundingMode?: RoundingMode;
  filterShape: [number, number, number, number];
}

/**
 * dW[kh,kw,ci,co] = Σ_{b,oh,ow} x[b, oh·s + kh − pt, ow·s + kw − pl, ci] · dy[b,oh,ow,co].
 *
 * Read with (kh,kw) as output position, (oh,ow) as filter tap and b as the reduced
 * channel, this is itself a forward convolution: input xᵀ = [ci, H, W, b], filter
 * dyᵀ = [oh, ow, b, co], stride 1, dilation s, output [ci, kh, kw, co]. The wasm
 * backend's XNNPACK Conv2D then does all the arithmetic at GEMM speed, with no im2col
 * buffer; only x and dy are transposed.
 *
 * No dilation attribute: the kernel has none, and tfjs' conv2d gradient asserts
 * dilation 1 before it gets here.
 */
function conv2dBackpropFilter(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const attrs = args.attrs as unknown as Conv2DBackpropFilterAttrs;
  assertFloat32(tf.Conv2DBackpropFilter, x, dy);
  const g = convGeometry(x.shape, attrs.filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, attrs.dataFormat);
  assertShape(tf.Conv2DBackpropFilter, "dy", dy.shape, g.outShape);
  return withScratch(backend, (s) =>
    isPlainPointwise(g) ? pointwiseFilterGrad(s, x, dy, g) : filterGradAsConvolution(s, x, dy, g),
  );
}

/** 1×1, stride 1, unpadded, NHWC: dW = x₂ᵀ·dy₂ with x₂ = [N, ci], dy₂ = [N, co]. */
function isPlainPointwise(g: ConvGeometry): boolean {
  return (
    g.channelsLast &&
    g.filterHeight === 1 &&
    g.filterWidth === 1 &&
    g.strideHeight === 1 &&
    g.strideWidth === 1 &&
    g.padTop === 0 &&
    g.padLeft === 0 &&
    g.outHeight === g.inHeight &&
    g.outWidth === g.inWidth
  );
}

function pointwiseFilterGrad(s: KernelScratch, x: tf.TensorInfo, dy: tf.TensorInfo, g: ConvGeometry): tf.TensorInfo {
  const n = g.batch * g.inHeight * g.inWidth;
  // XNNPACK's matMul is slow with transposeA; an explicit transpose is cheaper.
  const xT = s.transpose(s.reshape(x, [n, g.inChannels]), [1, 0]);
  const w = s.matMul(xT, s.reshape(dy, [n, g.outChannels]));
  return s.reshape(w, [1, 1, g.inChannels, g.outChannels]);
}

function filterGradAsConvolution(s: KernelScratch, x: tf.TensorInfo, dy: tf.TensorInfo, g: ConvGeometry): tf.TensorInfo {
  let xT = s.transpose(x, g.channelsLast ? [3, 1, 2, 0] : [1, 2, 3, 0]); // [ci, H, W, b]
  const dyT = s.transpose(dy, g.channelsLast ? [1, 2, 0, 3] : [2, 3, 0, 1]); // [oh, ow, b, co]

  // Bottom/right padding that makes the output exactly kh × kw. It is negative when
  // the forward conv never reached the last rows or columns (e.g. 'valid', stride 2,
  // even size); those are cropped instead, as XNNPACK takes no negative padding.
  const padBottom = g.filterHeight + (g.outHeight - 1) * g.strideHeight - g.inHeight - g.padTop;
  const padRight = g.filterWidth + (g.outWidth - 1) * g.strideWidth - g.inWidth - g.padLeft;
  if (padBottom < 0 || padRight < 0) {
    const h = g.inHeight + Math.min(padBottom, 0);
    const w = g.inWidth + Math.min(padRight, 0);
    // Only padding under every tap (explicit padding wider than the reach): no gradient.
    if (h <= 0 || w <= 0) return s.zeros([g.filterHeight, g.filterWidth, g.inChannels, g.outChannels]);
    // As [ci, H, W·b] the kept columns are one contiguous run per row.
    const cropped = s.slice(s.reshape(xT, [g.inChannels, g.inHeight, g.inWidth * g.batch]), [0, 0, 0], [
      g.inChannels,
      h,
      w * g.batch,
    ]);
    xT = s.reshape(cropped, [g.inChannels, h, w, g.batch]);
  }

  const dW = s.run(
    tf.Conv2D,
    { x: xT, filter: dyT },
    {
      strides: [1, 1],
      pad: [
        [0, 0],
        [g.padTop, Math.max(padBottom, 0)],
        [g.padLeft, Math.max(padRight, 0)],
        [0, 0],
      ],
      dataFormat: "NHWC",
      dilations: [g.strideHeight, g.strideWidth],
    },
  ); // [ci, kh, kw, co]
  return s.transpose(dW, [1, 2, 0, 3]);
}

export const conv2dBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: "wasm",
  kernelFunc: conv2dBackpropFilter as unknown as tf.KernelFunc,
};
