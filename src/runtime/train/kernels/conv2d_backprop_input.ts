import { tf } from "../tf.js";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { assertShape, convGeometry, type ConvGeometry, type ConvPad, type RoundingMode } from "./geometry.js";
import { assertFloat32, heapView, withScratch, type KernelScratch } from "./scratch.js";

interface Conv2DBackpropInputAttrs {
  strides: number | [number, number];
  pad: ConvPad;
  dataFormat: "NHWC" | "NCHW";
  dimRoundingMode?: RoundingMode;
  inputShape: [number, number, number, number];
}

/**
 * dx[b,ih,iw,ci] = Σ dy[b,oh,ow,co] · W[kh,kw,ci,co] over ih = oh·sh + kh − pt, iw = ow·sw + kw − pl.
 *
 * Replaces tfjs-backend-wasm's own kernel, a scalar loop about 8× slower than the
 * forward conv of the same shape. Per axis, the dx indices i with (i + pad) ≡ r
 * (mod s) are reached only by the taps k ≡ r, and along them the sum is a plain
 * stride-1 correlation of dy with those taps reversed. So with stride s the gradient
 * splits into s² "phase" convolutions, each run by the wasm Conv2D (XNNPACK):
 *
 *   dx[s·q + r − pad] = Σ_t dy[q − J + 1 + t] · W[r + s·(J − 1 − t)],   J = ⌈(K − r)/s⌉,
 *
 * with W's channel axes swapped. Together they do exactly the forward conv's
 * multiply-adds; convolving a zero-stuffed dy instead would do s² times as many, most
 * on zeros (measured ~3× slower at stride 2, 3×3). The phases are then interleaved
 * into dx. With stride 1 there is one phase: dx is a single full-padding convolution.
 * A 1×1 filter needs no special case: XNNPACK runs a 1×1 conv as a GEMM, measured a
 * little faster than BatchMatMul with the filter transposed beforehand (and ~10×
 * faster than BatchMatMul with transposeB).
 *
 * No dilation attribute: tfjs' conv2d gradient asserts dilation 1 before it gets here.
 * NCHW, which XNNPACK lacks, runs as NHWC between two transposes.
 */
function conv2dBackpropInput(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs: tf.NamedAttrMap;
}): tf.TensorInfo {
  const backend = args.backend as BackendWasm;
  const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const attrs = args.attrs as unknown as Conv2DBackpropInputAttrs;
  const name = tf.Conv2DBackpropInput;
  assertFloat32(name, dy, filter);
  const g = convGeometry(attrs.inputShape, filter.shape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, attrs.dataFormat);
  assertShape(name, "dy", dy.shape, g.outShape);
  return withScratch(backend, (s) => {
    const dyNhwc = g.channelsLast ? dy : s.transpose(dy, [0, 2, 3, 1]);
    const dx = inputGradNhwc(s, dyNhwc, filter, g);
    return g.channelsLast ? dx : s.transpose(dx, [0, 3, 1, 2]);
  });
}

/** One residue class of dx indices along one axis, and the dy range it reads. */
interface AxisPhase {
  /** r: the dx indices i with (i + pad) mod s = r, reached by the taps r, r + s, … */
  residue: number;
  /** J: how many taps that is; 0 leaves these dx indices at zero. */
  taps: number;
  /** q₀: the phase's first dx index is s·q₀ + r − pad. */
  first: number;
  /** Q: how many dx indices the phase holds. */
  count: number;
  /** dy indices [dyBegin, dyEnd) are the only ones read; the rest is cropped. */
  dyBegin: number;
  dyEnd: number;
  /** Zeros the convolution adds around dy[dyBegin, dyEnd) so that it yields Q outputs. */
  padBefore: number;
  padAfter: number;
}

/** Phases along one axis; residues that hold no dx index at all are left out. */
function axisPhases(inSize: number, outSize: number, filterSize: number, stride: number, pad: number): AxisPhase[] {
  const phases: AxisPhase[] = [];
  for (let residue = 0; residue < stride; residue++) {
    const taps = residue < filterSize ? Math.ceil((filterSize - residue) / stride) : 0;
    const first = Math.ceil((pad - residue) / stride);
    const count = Math.floor((inSize - 1 + pad - residue) / stride) - first + 1;
    if (count <= 0) continue;
    // dx index q (in phase units) reads dy[q − J + 1 … q].
    const dyBegin = Math.max(0, first - taps + 1);
    const dyEnd = Math.min(outSize, first + count);
    phases.push({
      residue,
      taps,
      first,
      count,
      dyBegin,
      dyEnd,
      padBefore: dyBegin - (first - taps + 1),
      padAfter: first + count - dyEnd,
    });
  }
  return phases;
}

/** A phase reads nothing but padding, or has no taps: its dx entries are zero. */
const isEmpty = (p: AxisPhase) => p.taps === 0 || p.dyEnd <= p.dyBegin;

function inputGradNhwc(s: KernelScratch, dy: tf.TensorInfo, filter: tf.TensorInfo, g: ConvGeometry): tf.TensorInfo {
  const dxShape = [g.batch, g.inHeight, g.inWidth, g.inChannels];
  const rowPhases = axisPhases(g.inHeight, g.outHeight, g.filterHeight, g.strideHeight, g.padTop);
  const colPhases = axisPhases(g.inWidth, g.outWidth, g.filterWidth, g.strideWidth, g.padLeft);
  const live: Array<[AxisPhase, AxisPhase]> = [];
  for (const rows of rowPhases) for (const cols of colPhases) if (!isEmpty(rows) && !isEmpty(cols)) live.push([rows, cols]);
  const complete = live.length === rowPhases.length * colPhases.length;

  const filters = live.map(([rows, cols]) => phaseFilter(heapView(s.backend, filter), g, rows, cols));
  const outputs = live.map(([rows, cols], i) => phaseConvolution(s, dy, filters[i]!, g, rows, cols));
  // Stride 1 (or a stride that leaves a single phase covering dx): the conv output is dx.
  if (complete && live.length === 1 && live[0]![0].count === g.inHeight && live[0]![1].count === g.inWidth) {
    return outputs[0]!;
  }
  const dx = s.allocate(dxShape);
  const target = heapView(s.backend, dx); // all allocations are done: views stay valid below
  if (!complete) target.fill(0);
  live.forEach(([rows, cols], i) => interleavePhase(heapView(s.backend, outputs[i]!), target, g, rows, cols));
  return dx;
}

/** F[t, u, co, ci] = W[rh + sh·(Jh − 1 − t), rw + sw·(Jw − 1 − u), ci, co]: taps of one phase, reversed and transposed. */
function phaseFilter(w: Float32Array, g: ConvGeometry, rows: AxisPhase, cols: AxisPhase): Float32Array {
  const { inChannels, outChannels } = g;
  const out = new Float32Array(rows.taps * cols.taps * outChannels * inChannels);
  let o = 0;
  for (let t = 0; t < rows.taps; t++) {
    const kh = rows.residue + g.strideHeight * (rows.taps - 1 - t);
    for (let u = 0; u < cols.taps; u++) {
      const kw = cols.residue + g.strideWidth * (cols.taps - 1 - u);
      const base = (kh * g.filterWidth + kw) * inChannels * outChannels;
      for (let co = 0; co < outChannels; co++) {
        for (let ci = 0; ci < inChannels; ci++) out[o++] = w[base + ci * outChannels + co]!;
      }
    }
  }
  return out;
}

function phaseConvolution(
  s: KernelScratch,
  dy: tf.TensorInfo,
  taps: Float32Array,
  g: ConvGeometry,
  rows: AxisPhase,
  cols: AxisPhase,
): tf.TensorInfo {
  const filter = s.allocate([rows.taps, cols.taps, g.outChannels, g.inChannels]);
  heapView(s.backend, filter).set(taps);
  const whole = rows.dyBegin === 0 && rows.dyEnd === g.outHeight && cols.dyBegin === 0 && cols.dyEnd === g.outWidth;
  // Cropping happens only when padding reaches past every tap (e.g. explicit pads wider than the filter).
  const source = whole
    ? dy
    : s.slice(dy, [0, rows.dyBegin, cols.dyBegin, 0], [g.batch, rows.dyEnd - rows.dyBegin, cols.dyEnd - cols.dyBegin, g.outChannels]);
  return s.run(
    tf.Conv2D,
    { x: source, filter },
    {
      strides: [1, 1],
      pad: [
        [0, 0],
        [rows.padBefore, rows.padAfter],
        [cols.padBefore, cols.padAfter],
        [0, 0],
      ],
      dataFormat: "NHWC",
      dilations: [1, 1],
    },
  ); // [b, Qh, Qw, ci]
}

/** Copies a phase's [b, Qh, Qw, ci] output to dx[b, sh·(q₀h + qh) + rh − pt, sw·(q₀w + qw) + rw − pl, ci]. */
function interleavePhase(phase: Float32Array, dx: Float32Array, g: ConvGeometry, rows: AxisPhase, cols: AxisPhase): void {
  const channels = g.inChannels;
  const pixelStep = g.strideWidth * channels;
  const firstCol = g.strideWidth * cols.first + cols.residue - g.padLeft;
  let from = 0;
  for (let b = 0; b < g.batch; b++) {
    for (let qh = 0; qh < rows.count; qh++) {
      const ih = g.strideHeight * (rows.first + qh) + rows.residue - g.padTop;
      let to = ((b * g.inHeight + ih) * g.inWidth + firstCol) * channels;
      // One TypedArray.set per pixel costs about as much as a 32-float loop in V8.
      if (channels >= 32) {
        for (let qw = 0; qw < cols.count; qw++, to += pixelStep, from += channels) dx.set(phase.subarray(from, from + channels), to);
      } else {
        for (let qw = 0; qw < cols.count; qw++, to += pixelStep) {
          for (let c = 0; c < channels; c++) dx[to + c] = phase[from++]!;
        }
      }
    }
  }
}

export const conv2dBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: "wasm",
  kernelFunc: conv2dBackpropInput as unknown as tf.KernelFunc,
};
