import { tf } from "../tf.js";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { assertShape, convGeometry, type ConvGeometry, type ConvPad, type RoundingMode } from "./geometry.js";
import { assertFloat32, heapView, withScratch, type KernelScratch } from "./scratch.js";

interface DepthwiseBackpropInputAttrs {
  strides: number | [number, number];
  dilations?: number | [number, number];
  pad: ConvPad;
  dimRoundingMode?: RoundingMode;
  inputShape: [number, number, number, number];
}

/**
 * dx is the forward depthwise convolution (stride 1, same dilation) of dy, spread out
 * by the stride and padded, with the spatially flipped filter:
 *
 *   dx[b,ih,iw,c] = Σ_{kh,kw,m} P[b, ih + kh·dh, iw + kw·dw, c·M+m] · W[KH−1−kh, KW−1−kw, c, m]
 *
 * where P holds dy[b,oh,ow,·] at (top + oh·sh, left + ow·sw), zeros elsewhere, with
 * top = (KH−1)·dh − pt. Channel multipliers M > 1 run as a multiplier-1 conv over the
 * c·M channels followed by a sum over m, so XNNPACK's fast depthwise path does the work.
 */
function depthwiseBackpropInput(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const attrs = args.attrs as unknown as DepthwiseBackpropInputAttrs;
  const name = tf.DepthwiseConv2dNativeBackpropInput;
  assertFloat32(name, dy, filter);
  const g = convGeometry(attrs.inputShape, filter.shape, attrs.strides, attrs.dilations, attrs.pad, attrs.dimRoundingMode, true);
  assertShape(name, "dy", dy.shape, g.outShape);
  const [filterHeight, filterWidth, , multiplier] = filter.shape as [number, number, number, number];
  const channels = g.outChannels; // c·M

  const top = g.effectiveFilterHeight - 1 - g.padTop;
  const left = g.effectiveFilterWidth - 1 - g.padLeft;
  const bottom = g.inHeight + g.effectiveFilterHeight - 1 - top - ((g.outHeight - 1) * g.strideHeight + 1);
  const right = g.inWidth + g.effectiveFilterWidth - 1 - left - ((g.outWidth - 1) * g.strideWidth + 1);

  return withScratch(backend, (s) => {
    // Stride 1 and non-negative padding: the conv pads dy itself, no copy needed.
    const direct = g.strideHeight === 1 && g.strideWidth === 1 && Math.min(top, left, bottom, right) >= 0;
    const source = direct ? dy : spreadGradient(s, dy, g, top, left);
    const pad = direct ? [[0, 0], [top, bottom], [left, right], [0, 0]] : 0;
    const flipped = s.reshape(s.run(tf.Reverse, { x: filter }, { dims: [0, 1] }), [filterHeight, filterWidth, channels, 1]);
    const dx = s.run(
      tf.DepthwiseConv2dNative,
      { x: source, filter: flipped },
      { strides: [1, 1], pad, dilations: [g.dilationHeight, g.dilationWidth] },
    );
    if (multiplier === 1) return dx;
    const perMultiplier = s.reshape(dx, [g.batch, g.inHeight, g.inWidth, g.inChannels, multiplier]);
    return s.run(tf.Sum, { x: perMultiplier }, { axis: [4], keepDims: false });
  });
}

/**
 * P: dy placed every `stride` pixels inside a zero frame sized so that a 'valid'
 * conv with the effective filter yields the input size. Rows or columns that would
 * land outside the frame (padding wider than the filter's reach) contribute nothing
 * to dx and are dropped.
 */
function spreadGradient(s: KernelScratch, dy: tf.TensorInfo, g: ConvGeometry, top: number, left: number): tf.TensorInfo {
  const channels = g.outChannels;
  const height = g.inHeight + g.effectiveFilterHeight - 1;
  const width = g.inWidth + g.effectiveFilterWidth - 1;
  const spread = s.allocate([g.batch, height, width, channels]);
  const out = heapView(s.backend, spread); // views taken after the allocation
  const src = heapView(s.backend, dy);
  out.fill(0);
  for (let b = 0; b < g.batch; b++) {
    for (let oh = 0; oh < g.outHeight; oh++) {
      const row = top + oh * g.strideHeight;
      if (row < 0 || row >= height) continue;
      for (let ow = 0; ow < g.outWidth; ow++) {
        const col = left + ow * g.strideWidth;
        if (col < 0 || col >= width) continue;
        const from = ((b * g.outHeight + oh) * g.outWidth + ow) * channels;
        out.set(src.subarray(from, from + channels), ((b * height + row) * width + col) * channels);
      }
    }
  }
  return spread;
}

export const depthwiseBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropInput,
  backendName: "wasm",
  kernelFunc: depthwiseBackpropInput as unknown as tf.KernelFunc,
};
