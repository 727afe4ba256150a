import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { beforeAll, describe, expect, it } from "vitest";
import {
  conv2dBackpropInputConfig,
  maxPoolGradConfig,
  registerWasmGradientKernels,
  wasmGradientKernels,
  wasmKernelReplacements,
} from "../src/runtime/train/kernels/index.js";

/**
 * Parity of the wasm gradient kernels with tfjs' cpu backend, run on the same seeded
 * inputs. The cpu kernels ignore dilation, so dilated cases are compared against the
 * cpu result for the equivalent undilated filter (zeros between taps) and checked
 * against the cpu *forward* op through the adjoint identity.
 */

type Pad = "same" | "valid" | number | tf.backend_util.ExplicitPadding;
type Backend = "cpu" | "wasm";

const TOLERANCE = 1e-5;
const SIZES = [7, 9, 14, 28];
const CHANNELS = [1, 3, 8, 16];
const KERNELS = [1, 3, 5];
const STRIDES = [1, 2];
const PADS: Pad[] = ["same", "valid", 2, [[0, 0], [1, 0], [2, 1], [0, 0]]];

beforeAll(async () => {
  registerWasmGradientKernels();
  expect(await tf.setBackend("wasm")).toBe(true);
  expect(await tf.setBackend("cpu")).toBe(true);
});

/** mulberry32: small, seedable, good enough for test data. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Non-zero values in ±[0.25, 1]. */
function randomData(next: () => number, size: number): Float32Array {
  const v = new Float32Array(size);
  for (let i = 0; i < size; i++) v[i] = (next() < 0.5 ? -1 : 1) * (0.25 + 0.75 * next());
  return v;
}

function pick<T>(next: () => number, xs: readonly T[]): T {
  return xs[Math.floor(next() * xs.length)]!;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Runs `f` on `backend` and returns its values; nothing stays allocated. */
async function on(backend: Backend, f: () => tf.Tensor): Promise<Float32Array> {
  await tf.setBackend(backend);
  const t = tf.tidy(f);
  const values = (await t.data()) as Float32Array;
  t.dispose();
  return values;
}

function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return diff / Math.max(scale, 1e-30);
}

function runKernel(name: string, inputs: Record<string, tf.Tensor>, attrs: object): tf.Tensor {
  return tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap) as tf.Tensor;
}

const padLabel = (p: Pad) => (typeof p === "object" ? "explicit" : String(p));

/** Output size of a conv along one axis, as tfjs computes it; ≤ 0 when the case is impossible. */
function outSize(inSize: number, k: number, stride: number, dilation: number, pad: Pad): number {
  const info = tf.backend_util.computeConv2DInfo([1, inSize, inSize, 1], [k, k, 1, 1], stride, dilation, pad);
  return Math.min(info.outHeight, info.outWidth);
}

interface ConvCase {
  label: string;
  batch: number;
  height: number;
  width: number;
  inChannels: number;
  k: number;
  stride: number;
  dilation: number;
  pad: Pad;
  dimRoundingMode?: "floor" | "round" | "ceil";
  /** Output channels for conv2d, channel multiplier for depthwise. */
  multiplier: number;
  nchw?: boolean;
  seed: number;
}

/** Draws sizes for a fixed (k, stride, dilation, pad), keeping the cpu reference cheap. */
function drawCase(
  seed: number,
  fixed: Omit<ConvCase, "label" | "batch" | "height" | "width" | "inChannels" | "seed">,
  maxMacs: number,
  depthwise = true,
): ConvCase {
  const next = rng(seed);
  for (;;) {
    const c: ConvCase = {
      ...fixed,
      batch: 1 + Math.floor(next() * 4),
      height: pick(next, SIZES),
      width: pick(next, SIZES),
      inChannels: pick(next, CHANNELS),
      seed,
      label: "",
    };
    const oh = outSize(c.height, c.k, c.stride, c.dilation, c.pad);
    const ow = outSize(c.width, c.k, c.stride, c.dilation, c.pad);
    if (oh <= 0 || ow <= 0) continue;
    if (c.batch * oh * ow * c.k * c.k * c.inChannels * c.multiplier > maxMacs) continue;
    c.label =
      `b${c.batch} ${c.height}x${c.width}x${c.inChannels} k${c.k} s${c.stride} d${c.dilation} ` +
      `pad=${padLabel(c.pad)}${c.dimRoundingMode ? `/${c.dimRoundingMode}` : ""} ` +
      `${depthwise ? `m${c.multiplier}` : `→${c.multiplier}`}${c.nchw ? " NCHW" : ""}`;
    return c;
  }
}

function geometry(c: ConvCase, depthwise: boolean) {
  const filterShape: [number, number, number, number] = [c.k, c.k, c.inChannels, c.multiplier];
  const info = tf.backend_util.computeConv2DInfo(
    [c.batch, c.height, c.width, c.inChannels],
    filterShape,
    c.stride,
    c.dilation,
    c.pad,
    c.dimRoundingMode,
    depthwise,
  );
  const inShape: number[] = [c.batch, c.height, c.width, c.inChannels];
  const outShape: number[] = [c.batch, info.outHeight, info.outWidth, info.outChannels];
  return { filterShape, inShape, outShape, effectiveK: info.effectiveFilterHeight };
}

function conv2dCases(): ConvCase[] {
  const cases: ConvCase[] = [];
  let seed = 1000;
  for (const k of KERNELS)
    for (const stride of STRIDES)
      for (const pad of PADS) {
        const multiplier = pick(rng(seed), CHANNELS);
        cases.push(drawCase(seed++, { k, stride, dilation: 1, pad, multiplier }, 400_000, false));
      }
  // Rounding modes with a numeric pad, and the channels-first layout.
  cases.push(drawCase(seed++, { k: 3, stride: 2, dilation: 1, pad: 1, dimRoundingMode: "ceil", multiplier: 8 }, 400_000, false));
  cases.push(drawCase(seed++, { k: 5, stride: 2, dilation: 1, pad: 1, dimRoundingMode: "round", multiplier: 3 }, 400_000, false));
  cases.push(drawCase(seed++, { k: 3, stride: 1, dilation: 1, pad: "same", multiplier: 8, nchw: true }, 400_000, false));
  cases.push(drawCase(seed++, { k: 3, stride: 2, dilation: 1, pad: "valid", multiplier: 16, nchw: true }, 400_000, false));
  // Pointwise fast path.
  cases.push(drawCase(seed++, { k: 1, stride: 1, dilation: 1, pad: "valid", multiplier: 16 }, 400_000, false));
  return cases;
}

function depthwiseCases(): ConvCase[] {
  const cases: ConvCase[] = [];
  let seed = 2000;
  for (const k of KERNELS)
    for (const stride of STRIDES)
      for (const pad of PADS)
        for (const multiplier of [1, 2]) cases.push(drawCase(seed++, { k, stride, dilation: 1, pad, multiplier }, 1_000_000));
  for (const k of [3, 5])
    for (const pad of PADS)
      for (const multiplier of [1, 2]) cases.push(drawCase(seed++, { k, stride: 1, dilation: 2, pad, multiplier }, 1_000_000));
  cases.push(drawCase(seed++, { k: 3, stride: 2, dilation: 1, pad: 1, dimRoundingMode: "ceil", multiplier: 2 }, 1_000_000));
  return cases;
}

/** A filter with zeros between the taps: dilation d as a dense (k−1)·d+1 filter. */
function dilateFilter(w: Float32Array, c: ConvCase): { values: Float32Array; shape: [number, number, number, number] } {
  const e = (c.k - 1) * c.dilation + 1;
  const inner = c.inChannels * c.multiplier;
  const values = new Float32Array(e * e * inner);
  for (let i = 0; i < c.k; i++)
    for (let j = 0; j < c.k; j++)
      values.set(w.subarray((i * c.k + j) * inner, (i * c.k + j + 1) * inner), (i * c.dilation * e + j * c.dilation) * inner);
  return { values, shape: [e, e, c.inChannels, c.multiplier] };
}

/** Picks the dilated taps back out of an undilated (k−1)·d+1 filter gradient. */
function undilateFilter(w: Float32Array, c: ConvCase): Float32Array {
  const e = (c.k - 1) * c.dilation + 1;
  const inner = c.inChannels * c.multiplier;
  const out = new Float32Array(c.k * c.k * inner);
  for (let i = 0; i < c.k; i++)
    for (let j = 0; j < c.k; j++) {
      const from = (i * c.dilation * e + j * c.dilation) * inner;
      out.set(w.subarray(from, from + inner), (i * c.k + j) * inner);
    }
  return out;
}

const toNchw = (s: number[]) => [s[0]!, s[3]!, s[1]!, s[2]!];

describe("Conv2DBackpropFilter on wasm matches cpu", () => {
  for (const c of conv2dCases()) {
    it(c.label, async () => {
      const { filterShape, inShape, outShape } = geometry(c, false);
      const next = rng(c.seed * 7 + 1);
      const xShape = c.nchw ? toNchw(inShape) : inShape;
      const dyShape = c.nchw ? toNchw(outShape) : outShape;
      const x = randomData(next, size(xShape));
      const dy = randomData(next, size(dyShape));
      const attrs = {
        strides: c.stride,
        pad: c.pad,
        dataFormat: c.nchw ? "NCHW" : "NHWC",
        dimRoundingMode: c.dimRoundingMode,
        filterShape,
      };
      const run = () => runKernel(tf.Conv2DBackpropFilter, { x: tf.tensor(x, xShape), dy: tf.tensor(dy, dyShape) }, attrs);
      const actual = await on("wasm", run);
      const expected = await on("cpu", run);
      expect(relativeError(actual, expected)).toBeLessThanOrEqual(TOLERANCE);
    });
  }

  it("padding wider than every tap's reach gives a zero gradient", async () => {
    // Height 1, one padded row on top, stride 2: the single output row reads only padding.
    const xShape = [2, 1, 7, 3];
    const dyShape = [2, 1, 4, 5];
    const next = rng(5);
    const x = randomData(next, size(xShape));
    const dy = randomData(next, size(dyShape));
    const attrs = { strides: 2, pad: [[0, 0], [1, 0], [0, 0], [0, 0]], dataFormat: "NHWC", filterShape: [1, 1, 3, 5] };
    const run = () => runKernel(tf.Conv2DBackpropFilter, { x: tf.tensor(x, xShape), dy: tf.tensor(dy, dyShape) }, attrs);
    const actual = await on("wasm", run);
    expect(Array.from(actual)).toEqual(Array.from(await on("cpu", run)));
    expect(actual.every((v) => v === 0)).toBe(true);
  });
});

/** An input-gradient case given by shapes, for geometries the random grid does not reach. */
interface InputGradCase {
  label: string;
  inShape: number[];
  filterShape: [number, number, number, number];
  strides: number | [number, number];
  pad: Pad;
  dimRoundingMode?: "floor" | "round" | "ceil";
  nchw?: boolean;
  seed: number;
}

function inputGradCases(): InputGradCase[] {
  const cases: InputGradCase[] = conv2dCases().map((c) => ({
    label: c.label,
    inShape: [c.batch, c.height, c.width, c.inChannels],
    filterShape: [c.k, c.k, c.inChannels, c.multiplier],
    strides: c.stride,
    pad: c.pad,
    dimRoundingMode: c.dimRoundingMode,
    nchw: c.nchw,
    seed: c.seed,
  }));
  // Stride 3: nine phases, some without taps when k < 3.
  let seed = 1500;
  for (const k of KERNELS)
    for (const pad of PADS) {
      const c = drawCase(seed++, { k, stride: 3, dilation: 1, pad, multiplier: pick(rng(seed), CHANNELS) }, 400_000, false);
      cases.push({ ...c, inShape: [c.batch, c.height, c.width, c.inChannels], filterShape: [k, k, c.inChannels, c.multiplier], strides: 3 });
    }
  const more: Array<Omit<InputGradCase, "label" | "seed">> = [
    // Unequal strides and a non-square filter.
    { inShape: [2, 9, 14, 3], filterShape: [3, 5, 3, 8], strides: [2, 3], pad: "same" },
    { inShape: [2, 9, 14, 3], filterShape: [3, 5, 3, 8], strides: [3, 2], pad: "valid", nchw: true },
    // Padding wider than the filter: dy rows and columns that only see padding are cropped.
    { inShape: [2, 5, 6, 3], filterShape: [1, 1, 3, 4], strides: 1, pad: [[0, 0], [3, 0], [0, 4], [0, 0]] },
    { inShape: [2, 7, 8, 3], filterShape: [3, 3, 3, 4], strides: 2, pad: [[0, 0], [4, 3], [1, 5], [0, 0]] },
    // Input larger than the conv reaches ('valid', stride 2, even size): trailing rows get zeros.
    { inShape: [3, 8, 8, 5], filterShape: [3, 3, 5, 6], strides: 2, pad: "valid" },
    // One input pixel, stride 2: a single phase covers dx.
    { inShape: [2, 1, 1, 4], filterShape: [3, 3, 4, 6], strides: 2, pad: "same" },
    // Only padding under every tap: dx is zero.
    { inShape: [2, 1, 7, 3], filterShape: [1, 1, 3, 5], strides: 2, pad: [[0, 0], [1, 0], [0, 0], [0, 0]] },
    // Pointwise, batch 1, many channels.
    { inShape: [1, 14, 14, 64], filterShape: [1, 1, 64, 32], strides: 1, pad: "valid" },
    // Stride 2 with 32 or more input channels (interleaved a pixel at a time).
    { inShape: [2, 9, 10, 40], filterShape: [3, 3, 40, 8], strides: 2, pad: "same" },
  ];
  for (const c of more) {
    const label =
      `[${c.inShape.join(",")}] filter [${c.filterShape.join(",")}] s${String(c.strides)} pad=${padLabel(c.pad)}` +
      (c.nchw ? " NCHW" : "");
    cases.push({ ...c, label, seed: seed++ });
  }
  return cases;
}

describe("Conv2DBackpropInput on wasm matches cpu", () => {
  it("is ours, not the backend's own", () => {
    expect(tf.getKernel(tf.Conv2DBackpropInput, "wasm")).toBe(conv2dBackpropInputConfig);
  });

  for (const c of inputGradCases()) {
    it(c.label, async () => {
      const info = tf.backend_util.computeConv2DInfo(
        c.inShape as [number, number, number, number],
        c.filterShape,
        c.strides,
        1,
        c.pad,
        c.dimRoundingMode,
      );
      const outShape = [c.inShape[0]!, info.outHeight, info.outWidth, info.outChannels];
      const inputShape = c.nchw ? toNchw(c.inShape) : c.inShape;
      const dyShape = c.nchw ? toNchw(outShape) : outShape;
      const next = rng(c.seed * 7 + 3);
      const w = randomData(next, size(c.filterShape));
      const dy = randomData(next, size(dyShape));
      const attrs = {
        strides: c.strides,
        pad: c.pad,
        dataFormat: c.nchw ? "NCHW" : "NHWC",
        dimRoundingMode: c.dimRoundingMode,
        inputShape,
      };
      const run = () => runKernel(tf.Conv2DBackpropInput, { dy: tf.tensor(dy, dyShape), filter: tf.tensor(w, c.filterShape) }, attrs);
      const actual = await on("wasm", run);
      const expected = await on("cpu", run);
      if (expected.every((v) => v === 0)) expect(actual.every((v) => v === 0)).toBe(true);
      else expect(relativeError(actual, expected)).toBeLessThanOrEqual(TOLERANCE);
    });
  }
});

describe("MaxPoolGrad on wasm matches cpu", () => {
  it("is ours, not the backend's own", () => {
    expect(tf.getKernel(tf.MaxPoolGrad, "wasm")).toBe(maxPoolGradConfig);
  });

  // Values of both signs (the backend's own kernel dropped the gradient of windows whose maximum
  // is negative), after a relu (ties at zero: the first maximum gets it), and all negative.
  const kinds = ["signed", "relu", "negative"] as const;
  let seed = 5000;
  for (const kind of kinds) {
    for (const [filter, stride, pad] of [[2, 2, "same"], [2, 2, "valid"], [3, 2, "same"], [3, 1, "same"], [3, 2, "valid"], [2, 1, 1]] as const) {
      const next = rng(seed++);
      const shape = [1 + Math.floor(next() * 3), pick(next, [5, 7, 8, 14]), pick(next, [5, 6, 9]), pick(next, [1, 3, 8])];
      it(`${kind} [${shape.join(",")}] ${filter}×${filter} s${stride} pad=${pad}`, async () => {
        const values = randomData(next, size(shape)).map((v) => (kind === "relu" ? Math.max(v, 0) : kind === "negative" ? -Math.abs(v) : v));
        const run = () => {
          const x = tf.tensor4d(values, shape as [number, number, number, number]);
          const y = tf.maxPool(x, filter, stride, pad);
          const dy = tf.tensor(randomData(rng(seed * 3), y.size), y.shape);
          return runKernel(tf.MaxPoolGrad, { dy, input: x, output: y }, { filterSize: filter, strides: stride, pad });
        };
        const actual = await on("wasm", run);
        const expected = await on("cpu", run);
        expect(expected.some((v) => v !== 0)).toBe(true);
        expect(relativeError(actual, expected)).toBeLessThanOrEqual(1e-6);
      });
    }
  }
});

describe("BatchMatMul on wasm (operands transposed first) matches cpu", () => {
  const cases: [number[], number[], boolean, boolean][] = [
    [[37, 53], [37, 11], true, false],
    [[17, 29], [41, 29], false, true],
    [[29, 17], [41, 29], true, true],
    [[3, 13, 7], [3, 13, 5], true, false],
    [[2, 9, 6], [2, 4, 6], false, true],
    [[19, 23], [23, 8], false, false],
  ];
  it("is wrapped, once", () => {
    const kernel = tf.getKernel(tf.BatchMatMul, "wasm")!;
    registerWasmGradientKernels();
    expect(tf.getKernel(tf.BatchMatMul, "wasm")).toBe(kernel);
  });
  for (const [sa, sb, ta, tb] of cases) {
    it(`[${sa}]${ta ? "ᵀ" : ""} · [${sb}]${tb ? "ᵀ" : ""}`, async () => {
      const next = rng(sa.length * 1000 + sa[0]! * 31 + sb[0]!);
      const av = randomData(next, size(sa));
      const bv = randomData(next, size(sb));
      const f = () => tf.matMul(tf.tensor(av, sa), tf.tensor(bv, sb), ta, tb);
      expect(relativeError(await on("wasm", f), await on("cpu", f))).toBeLessThanOrEqual(TOLERANCE);
    });
  }
});

describe("Identity on wasm shares its input's buffer", () => {
  it("a clone keeps its values after the original is disposed, and allocates no buffer", async () => {
    await tf.setBackend("wasm");
    const values = randomData(rng(5), 64);
    const x = tf.tensor(values, [8, 8]);
    const buffers = tf.memory().numDataBuffers;
    const y = x.clone();
    expect(tf.memory().numDataBuffers).toBe(buffers);
    x.dispose();
    expect([...(await y.data())]).toEqual([...values]);
    // Ops on the clone leave it unchanged (no kernel writes into its input).
    const z = tf.add(y, 1);
    expect([...(await y.data())]).toEqual([...values]);
    z.dispose();
    y.dispose();
  });
});

describe("DepthwiseConv2dNative backprop kernels on wasm match cpu", () => {
  for (const c of depthwiseCases()) {
    it(c.label, async () => {
      const { filterShape, inShape, outShape } = geometry(c, true);
      const next = rng(c.seed * 7 + 2);
      const x = randomData(next, size(inShape));
      const w = randomData(next, size(filterShape));
      const dy = randomData(next, size(outShape));
      const attrs = { strides: c.stride, pad: c.pad, dilations: c.dilation, dimRoundingMode: c.dimRoundingMode };

      const filterGrad = () =>
        runKernel(tf.DepthwiseConv2dNativeBackpropFilter, { x: tf.tensor(x, inShape), dy: tf.tensor(dy, outShape) }, { ...attrs, filterShape });
      const inputGrad = () =>
        runKernel(tf.DepthwiseConv2dNativeBackpropInput, { dy: tf.tensor(dy, outShape), filter: tf.tensor(w, filterShape) }, { ...attrs, inputShape: inShape });
      const actualFilter = await on("wasm", filterGrad);
      const actualInput = await on("wasm", inputGrad);

      let expectedFilter: Float32Array;
      let expectedInput: Float32Array;
      if (c.dilation === 1) {
        expectedFilter = await on("cpu", filterGrad);
        expectedInput = await on("cpu", inputGrad);
      } else {
        const dense = dilateFilter(w, c);
        const undilated = { ...attrs, dilations: 1 };
        expectedFilter = undilateFilter(
          await on("cpu", () =>
            runKernel(tf.DepthwiseConv2dNativeBackpropFilter, { x: tf.tensor(x, inShape), dy: tf.tensor(dy, outShape) }, { ...undilated, filterShape: dense.shape }),
          ),
          c,
        );
        expectedInput = await on("cpu", () =>
          runKernel(tf.DepthwiseConv2dNativeBackpropInput, { dy: tf.tensor(dy, outShape), filter: tf.tensor(dense.values, dense.shape) }, { ...undilated, inputShape: inShape }),
        );
      }
      expect(relativeError(actualFilter, expectedFilter)).toBeLessThanOrEqual(TOLERANCE);
      expect(relativeError(actualInput, expectedInput)).toBeLessThanOrEqual(TOLERANCE);
    });
  }
});

describe("adjoint identity against the cpu forward op", () => {
  // ⟨conv(x, W), dy⟩ = ⟨W, dW(x, dy)⟩ = ⟨x, dX(dy, W)⟩, with conv the cpu forward op,
  // which (unlike the cpu backprop kernels) implements dilation.
  const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let s = 0;
    let scale = 0;
    for (let i = 0; i < a.length; i++) {
      s += a[i]! * b[i]!;
      scale += Math.abs(a[i]! * b[i]!);
    }
    return { s, scale };
  };
  const cases = [
    drawCase(3001, { k: 3, stride: 1, dilation: 2, pad: "same", multiplier: 2 }, 1_000_000),
    drawCase(3002, { k: 5, stride: 1, dilation: 2, pad: "valid", multiplier: 1 }, 1_000_000),
    drawCase(3003, { k: 3, stride: 2, dilation: 1, pad: 2, multiplier: 2 }, 1_000_000),
  ];
  for (const c of cases) {
    it(`depthwise ${c.label}`, async () => {
      const { filterShape, inShape, outShape } = geometry(c, true);
      const next = rng(c.seed);
      const x = randomData(next, size(inShape));
      const w = randomData(next, size(filterShape));
      const dy = randomData(next, size(outShape));
      const attrs = { strides: c.stride, pad: c.pad, dilations: c.dilation };
      const y = await on("cpu", () =>
        runKernel(tf.DepthwiseConv2dNative, { x: tf.tensor(x, inShape), filter: tf.tensor(w, filterShape) }, attrs),
      );
      const dW = await on("wasm", () =>
        runKernel(tf.DepthwiseConv2dNativeBackpropFilter, { x: tf.tensor(x, inShape), dy: tf.tensor(dy, outShape) }, { ...attrs, filterShape }),
      );
      const dX = await on("wasm", () =>
        runKernel(tf.DepthwiseConv2dNativeBackpropInput, { dy: tf.tensor(dy, outShape), filter: tf.tensor(w, filterShape) }, { ...attrs, inputShape: inShape }),
      );
      const forward = dot(y, dy);
      for (const other of [dot(w, dW), dot(x, dX)]) {
        expect(Math.abs(other.s - forward.s) / forward.scale).toBeLessThanOrEqual(TOLERANCE);
      }
    });
  }
});

/** conv2d → tanh → depthwise (stride 2, multiplier 2) → tanh → 1×1 conv → dense → softmax cross-entropy. */
function smallNetGradients(values: Record<string, Float32Array>): tf.Tensor[] {
  return tf.tidy(() => smallNetGradientsUntidy(values));
}

function smallNetGradientsUntidy(values: Record<string, Float32Array>): tf.Tensor[] {
  const x = tf.tensor4d(values.x!, [2, 9, 9, 3]);
  const w1 = tf.tensor4d(values.w1!, [3, 3, 3, 8]);
  const w2 = tf.tensor4d(values.w2!, [3, 3, 8, 2]);
  const w3 = tf.tensor4d(values.w3!, [1, 1, 16, 6]);
  const w4 = tf.tensor2d(values.w4!, [5 * 5 * 6, 4]);
  const labels = tf.oneHot(tf.tensor1d([1, 3], "int32"), 4);
  const loss = (x: tf.Tensor, w1: tf.Tensor, w2: tf.Tensor, w3: tf.Tensor, w4: tf.Tensor) => {
    const h1 = tf.tanh(tf.conv2d(x as tf.Tensor4D, w1 as tf.Tensor4D, 1, "same"));
    const h2 = tf.tanh(tf.depthwiseConv2d(h1, w2 as tf.Tensor4D, 2, "same"));
    const h3 = tf.conv2d(h2, w3 as tf.Tensor4D, 1, "valid");
    const logits = tf.matMul(tf.reshape(h3, [2, 5 * 5 * 6]), w4 as tf.Tensor2D);
    return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
  };
  return tf.grads(loss)([x, w1, w2, w3, w4]);
}

function smallNetValues(): Record<string, Float32Array> {
  const next = rng(42);
  const scaled = (n: number, s: number) => randomData(next, n).map((v) => v * s);
  return {
    x: randomData(next, 2 * 9 * 9 * 3),
    w1: scaled(3 * 3 * 3 * 8, 0.3),
    w2: scaled(3 * 3 * 8 * 2, 0.3),
    w3: scaled(16 * 6, 0.3),
    w4: scaled(5 * 5 * 6 * 4, 0.2),
  };
}

describe("end to end", () => {
  it("tf.grads of a small conv net on wasm equals cpu for every weight and the input", async () => {
    const values = smallNetValues();
    const names = ["x", "w1", "w2", "w3", "w4"];
    for (let i = 0; i < names.length; i++) {
      const actual = await on("wasm", () => smallNetGradients(values)[i]!);
      const expected = await on("cpu", () => smallNetGradients(values)[i]!);
      expect(relativeError(actual, expected), names[i]).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it("tf.grads through stride-2 convs w.r.t. their input on wasm equals cpu", async () => {
    const next = rng(43);
    const x = randomData(next, 3 * 13 * 12 * 5);
    const w1 = randomData(next, 3 * 3 * 5 * 8).map((v) => v * 0.3);
    const w2 = randomData(next, 1 * 1 * 8 * 6).map((v) => v * 0.3);
    // 3×3 'same' (odd height: padding on top) then 1×1 'valid' (phases without taps), both stride 2.
    const grads = () =>
      tf.tidy(() => {
        const loss = (x: tf.Tensor, w1: tf.Tensor, w2: tf.Tensor) => {
          const h = tf.tanh(tf.conv2d(x as tf.Tensor4D, w1 as tf.Tensor4D, 2, "same"));
          return tf.sum(tf.square(tf.conv2d(h, w2 as tf.Tensor4D, 2, "valid"))) as tf.Scalar;
        };
        return tf.grads(loss)([tf.tensor4d(x, [3, 13, 12, 5]), tf.tensor4d(w1, [3, 3, 5, 8]), tf.tensor4d(w2, [1, 1, 8, 6])]);
      });
    for (const [i, name] of ["x", "w1", "w2"].entries()) {
      const actual = await on("wasm", () => grads()[i]!);
      const expected = await on("cpu", () => grads()[i]!);
      expect(relativeError(actual, expected), name).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it("a tf.layers CNN with conv2d and depthwiseConv2d trains on wasm as it does on cpu", async () => {
    const train = async (backend: Backend): Promise<number[]> => {
      await tf.setBackend(backend);
      const next = rng(7);
      const init = (seed: number) => tf.initializers.glorotNormal({ seed });
      const model = tf.sequential({
        layers: [
          tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 4, kernelSize: 3, padding: "same", activation: "relu", kernelInitializer: init(1) }),
          tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, depthMultiplier: 2, padding: "same", activation: "relu", depthwiseInitializer: init(2) }),
          tf.layers.flatten(),
          tf.layers.dense({ units: 2, activation: "softmax", kernelInitializer: init(3) }),
        ],
      });
      model.compile({ optimizer: tf.train.adam(0.01), loss: "categoricalCrossentropy" });
      const xs = tf.tensor4d(randomData(next, 16 * 8 * 8), [16, 8, 8, 1]);
      const ys = tf.oneHot(tf.tensor1d(Array.from({ length: 16 }, (_, i) => i % 2), "int32"), 2);
      const history = await model.fit(xs, ys, { epochs: 5, batchSize: 8, verbose: 0, shuffle: false });
      tf.dispose([xs, ys]);
      model.dispose();
      return history.history.loss as number[];
    };
    const onWasm = await train("wasm");
    const onCpu = await train("cpu");
    expect(onWasm[onWasm.length - 1]!).toBeLessThan(onWasm[0]!);
    expect(relativeError(onWasm, onCpu)).toBeLessThanOrEqual(TOLERANCE);
  });
});

describe("memory", () => {
  it("leaves no tensor and no wasm buffer behind", async () => {
    await tf.setBackend("wasm");
    const c = drawCase(4001, { k: 3, stride: 2, dilation: 1, pad: "valid", multiplier: 2 }, 1_000_000);
    const { filterShape, inShape, outShape } = geometry(c, true);
    const next = rng(1);
    const x = tf.tensor(randomData(next, size(inShape)), inShape);
    const dy = tf.tensor(randomData(next, size(outShape)), outShape);
    const w = tf.tensor(randomData(next, size(filterShape)), filterShape);
    const convDyShape = [...outShape.slice(0, 3), 5];
    const convDy = tf.tensor(randomData(next, size(convDyShape)), convDyShape);
    const convDyNchw = tf.transpose(convDy, [0, 3, 1, 2]);
    const convW = tf.tensor(randomData(next, 9 * c.inChannels * 5), [3, 3, c.inChannels, 5]);
    const wide: Pad = [[0, 0], [4, 0], [0, 5], [0, 0]];
    const wideInfo = tf.backend_util.computeConv2DInfo(inShape as [number, number, number, number], [3, 3, c.inChannels, 5], 2, 1, wide);
    const croppedDy = tf.zeros([c.batch, wideInfo.outHeight, wideInfo.outWidth, 5]);
    const pooled = tf.maxPool(x as tf.Tensor4D, 3, 2, "same");
    const poolDy = tf.tensor(randomData(next, pooled.size), pooled.shape);
    const values = smallNetValues();
    const backend = tf.backend();
    const before = { tensors: tf.memory().numTensors, dataIds: backend.numDataIds() };
    for (let i = 0; i < 3; i++) {
      tf.dispose([
        runKernel(tf.Conv2DBackpropFilter, { x, dy: convDy }, { strides: 2, pad: "valid", dataFormat: "NHWC", filterShape: [3, 3, c.inChannels, 5] }),
        runKernel(tf.DepthwiseConv2dNativeBackpropFilter, { x, dy }, { strides: 2, pad: "valid", dilations: 1, filterShape }),
        runKernel(tf.DepthwiseConv2dNativeBackpropInput, { dy, filter: w }, { strides: 2, pad: "valid", dilations: 1, inputShape: inShape }),
        runKernel(tf.Conv2DBackpropInput, { dy: convDy, filter: convW }, { strides: 2, pad: "valid", dataFormat: "NHWC", inputShape: inShape }),
        runKernel(tf.Conv2DBackpropInput, { dy: convDyNchw, filter: convW }, { strides: 2, pad: "valid", dataFormat: "NCHW", inputShape: toNchw(inShape) }),
        runKernel(tf.Conv2DBackpropInput, { dy: croppedDy, filter: convW }, { strides: 2, pad: wide, dataFormat: "NHWC", inputShape: inShape }),
        runKernel(tf.MaxPoolGrad, { dy: poolDy, input: x, output: pooled }, { filterSize: 3, strides: 2, pad: "same" }),
      ]);
      tf.dispose(smallNetGradients(values));
    }
    expect({ tensors: tf.memory().numTensors, dataIds: backend.numDataIds() }).toEqual(before);
    tf.dispose([x, dy, w, convDy, convDyNchw, convW, croppedDy, pooled, poolDy]);
  });
});

describe("registration", () => {
  it("is idempotent", () => {
    expect(registerWasmGradientKernels()).toEqual([]);
    for (const config of [...wasmGradientKernels, ...wasmKernelReplacements]) {
      expect(tf.getKernel(config.kernelName, "wasm")).toBe(config);
    }
  });

  it("replaces the backend's own Conv2DBackpropInput, once", () => {
    const ours = conv2dBackpropInputConfig;
    const native: tf.KernelConfig = { ...ours, kernelFunc: ours.kernelFunc };
    tf.unregisterKernel(ours.kernelName, "wasm");
    tf.registerKernel(native);
    try {
      expect(registerWasmGradientKernels()).toEqual([ours.kernelName]);
      expect(tf.getKernel(ours.kernelName, "wasm")).toBe(ours);
      expect(registerWasmGradientKernels()).toEqual([]);
      expect(tf.getKernel(ours.kernelName, "wasm")).toBe(ours);
    } finally {
      if (tf.getKernel(ours.kernelName, "wasm") !== ours) {
        tf.unregisterKernel(ours.kernelName, "wasm");
        tf.registerKernel(ours);
      }
    }
  });

  it("defers to a kernel that is already registered", () => {
    const ours = wasmGradientKernels[2]!;
    const native: tf.KernelConfig = { ...ours, kernelFunc: ours.kernelFunc };
    tf.unregisterKernel(ours.kernelName, "wasm");
    tf.registerKernel(native);
    try {
      expect(registerWasmGradientKernels()).toEqual([]);
      expect(tf.getKernel(ours.kernelName, "wasm")).toBe(native);
    } finally {
      tf.unregisterKernel(ours.kernelName, "wasm");
      tf.registerKernel(ours);
    }
  });

  it("registers only what is missing", () => {
    const ours = wasmGradientKernels[0]!;
    tf.unregisterKernel(ours.kernelName, "wasm");
    expect(registerWasmGradientKernels()).toEqual([ours.kernelName]);
    expect(tf.getKernel(ours.kernelName, "wasm")).toBe(ours);
  });
});
