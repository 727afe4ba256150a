import { tf } from "../tf.js";

export type Shape4 = [number, number, number, number];
export type ConvPad = "valid" | "same" | number | tf.backend_util.ExplicitPadding;
export type RoundingMode = "floor" | "round" | "ceil";

/**
 * One 2-D convolution's geometry, read from `backend_util.computeConv2DInfo` so that
 * padding and output sizes are exactly the ones the forward op used ('same', 'valid',
 * a number with its rounding mode, or explicit per-side amounts).
 */
export interface ConvGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  effectiveFilterHeight: number;
  effectiveFilterWidth: number;
  padTop: number;
  padLeft: number;
  channelsLast: boolean;
  /** Shape the dy tensor must have. */
  outShape: Shape4;
}

export function convGeometry(
  inShape: readonly number[],
  filterShape: readonly number[],
  strides: number | [number, number],
  dilations: number | [number, number] | null | undefined,
  pad: ConvPad,
  dimRoundingMode: RoundingMode | undefined,
  depthwise: boolean,
  dataFormat: "NHWC" | "NCHW" = "NHWC",
): ConvGeometry {
  const info = tf.backend_util.computeConv2DInfo(
    inShape as Shape4,
    filterShape as Shape4,
    strides,
    dilations ?? 1,
    pad,
    dimRoundingMode,
    depthwise,
    tf.backend_util.convertConv2DDataFormat(dataFormat),
  );
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    outChannels: info.outChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    dilationHeight: info.dilationHeight,
    dilationWidth: info.dilationWidth,
    effectiveFilterHeight: info.effectiveFilterHeight,
    effectiveFilterWidth: info.effectiveFilterWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
    channelsLast: info.dataFormat === "channelsLast",
    outShape: info.outShape,
  };
}

export function assertShape(kernelName: string, what: string, actual: readonly number[], expected: readonly number[]): void {
  if (actual.length !== expected.length || actual.some((d, i) => d !== expected[i])) {
    throw new Error(`${kernelName} (wasm): ${what} has shape [${actual.join(",")}], expected [${expected.join(",")}]`);
  }
}
