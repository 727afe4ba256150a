/**
 * The int8 and fp16 passes of the exporter (src/codegen/onnx/quantize.ts, float16.ts) and the
 * calibration (src/runtime/export/calibrate.ts), checked against onnxruntime on fresh seeded
 * inputs: half-precision rounding against onnxruntime's Cast, a tensor an fp16 edge file sends to
 * the cloud as float16, a quantized file against its float form, and the errors of a calibration
 * that cannot be done.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { emitIrJson, type IrJson } from "../src/codegen/index.js";
import { toFloat16 } from "../src/codegen/onnx/float16.js";
import { decodeModel, emitOnnx, planPartitions, type WeightLookup } from "../src/codegen/onnx/index.js";
import { DataType } from "../src/codegen/onnx/proto.js";
import { observeModel, quantizationPlan, quantizeModel, quantizeWeights, uint8Params, WEIGHT_QMAX } from "../src/codegen/onnx/quantize.js";
import type { PartitionIo } from "../src/format/manifest.js";
import { fromHalfBits, parseCalibrationMethod, referenceDtype, toHalfBits } from "../src/format/quantize.js";
import { calibrateRanges, chooseRange, type ObservedFile } from "../src/runtime/export/calibrate.js";
import { expectedWeights } from "../src/runtime/export/weights.js";
import { mulberry32 } from "../src/runtime/train/data/rng.js";
import { compileText, errorCodes } from "./helpers/compile.js";
import { autoCutSpec } from "./helpers/cut.js";
import { ortHalfCast } from "./helpers/half.js";

const INFO = { producerVersion: "test", docString: "quantization test", metadata: [] as [string, string][] };

/** Residual blocks, a concat, pools and both ReLU kinds: every op the int8 pass quantizes. */
const SPEC = `
model q
input image: u8[12, 12, 3]
labels 6

block main on edge {
  a = relu(batchnorm(conv2d(image, 8, kernel: 3, bias: false)))
  b = relu6(conv2d(a, 8, kernel: 3))
  c = relu(add(a, b))
  d = max_pool(c, kernel: 2)
  e = concat(d, avg_pool(depthwise_conv2d(d, kernel: 3), kernel: 1))
  exit main over all = dense(flatten(relu(conv2d(e, 8, kernel: 3))), num_classes)
}
`;

function irOf(text: string): IrJson {
  const r = compileText(text);
  expect(errorCodes(r), r.diagnostics.map((d) => d.message).join("\n")).toEqual([]);
  return emitIrJson(r.ir!, r.shapes, r.results);
}

/** Seeded weights of every node; batch-norm variances positive. */
function randomLookup(ir: IrJson, seed: number): WeightLookup {
  const rng = mulberry32(seed);
  const store = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const n of ir.nodes) {
    for (const [kind, shape] of expectedWeights(ir, n)) {
      const count = shape.reduce((a, b) => a * b, 1);
      const data = Float32Array.from({ length: count }, () => (kind === "moving_variance" ? 0.5 + rng() : kind === "gamma" ? 0.5 + rng() : (rng() - 0.5) * 0.6));
      store.set(`${n.id}/${kind}`, { shape, data });
    }
  }
  return (node, kind) => store.get(`${node.id}/${kind}`);
}

function pixels(count: number, size: number, seed: number): Uint8Array {
  const rng = mulberry32(seed);
  return Uint8Array.from({ length: count * size }, () => Math.floor(rng() * 256));
}

async function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor>, output: string): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: "all", intraOpNumThreads: 1 });
  const out = (await s.run(feeds))[output]!.data as Float32Array;
  await s.release();
  return out;
}

describe("float16", () => {
  it("rounds every float32 as onnxruntime's Cast does (normal, subnormal, overflow, ties)", async () => {
    const rng = mulberry32(11);
    const special = [0, -0, 1, -1, 65504, 65520, 7e4, -7e4, 6.1e-5, 5.96e-8, 2.98e-8, 1e-9, 1 + 2 ** -11, 1 + 3 * 2 ** -11, Infinity, -Infinity];
    const values = Float32Array.from([...special, ...Array.from({ length: 4000 }, () => (rng() - 0.5) * 10 ** Math.floor(rng() * 14 - 9))]);
    const y = await ortHalfCast(values);
    const ours = Array.from(values, (v) => toHalfBits(v));
    expect(ours).toEqual(Array.from(y));
  });

  it("a file at half precision answers as its float32 form does, within half-precision error", async () => {
    const ir = irOf(SPEC);
    const plan = planPartitions(ir)[0]!;
    const float = emitOnnx(ir, plan, randomLookup(ir, 3), INFO);
    const half = toFloat16(float);
    const graph = decodeModel(half).graph!;
    // Weights are float16; the file's inputs and outputs keep their types.
    expect(graph.initializer!.filter((t) => t.dataType === DataType.FLOAT)).toEqual([]);
    expect(graph.output!.map((o) => o.type!.tensorType!.elemType)).toEqual(decodeModel(float).graph!.output!.map((o) => o.type!.tensorType!.elemType));
    const x = { image: new ort.Tensor("uint8", pixels(32, 12 * 12 * 3, 5), [32, 12, 12, 3]) };
    const [a, b] = [await run(float, x, "probs_main"), await run(half, x, "probs_main")];
    const diff = Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
    expect(diff).toBeGreaterThan(0);
    expect(diff).toBeLessThan(0.02);
  });
});

describe("a tensor an fp16 edge sends to the cloud", () => {
  it("leaves the edge file as float16, bit for bit onnxruntime's Cast of its float32 reference's values; halving keeps that output", async () => {
    const ir = irOf(autoCutSpec("far", "precision: fp16"));
    const plans = planPartitions(ir);
    const edge = plans.find((p) => p.device === "edge" && p.outputs.some((o) => !o.exit))!;
    const cut = edge.outputs.find((o) => !o.exit)!;
    expect(cut.dtype).toBe("float16");
    expect(plans.find((p) => p.device === "cloud")!.inputs.map((i) => [i.name, i.dtype])).toEqual([[cut.name, "float16"]]);
    const weights = randomLookup(ir, 13);
    // The edge file before halving, and its float32 reference, which gives the cut in float32.
    const unhalved = emitOnnx(ir, edge, weights, INFO);
    const asReference = (io: PartitionIo): PartitionIo => ({ ...io, dtype: referenceDtype(io, ir.input.tensor) });
    const reference = emitOnnx(ir, { ...edge, inputs: edge.inputs.map(asReference), outputs: edge.outputs.map(asReference) }, weights, INFO);
    const elemOf = (bytes: Uint8Array) => decodeModel(bytes).graph!.output!.map((o) => o.type!.tensorType!.elemType);
    expect(elemOf(unhalved)).toEqual([DataType.FLOAT16]);
    expect(elemOf(reference)).toEqual([DataType.FLOAT]);
    const count = 16;
    const x = { image: new ort.Tensor("uint8", pixels(count, 16 * 16 * 3, 17), [count, 16, 16, 3]) };
    const values = await run(reference, x, cut.name);
    expect(values.filter((v) => v !== 0).length).toBeGreaterThan(values.length / 4);
    const half = (await run(unhalved, x, cut.name)) as unknown as Uint16Array;
    expect(half).toBeInstanceOf(Uint16Array);
    expect(Array.from(half)).toEqual(Array.from(await ortHalfCast(values)));
    // Halving adds no Cast after an output that is already float16: the one Cast the emitter wrote gives it, and its type stays.
    const halved = toFloat16(unhalved);
    expect(elemOf(halved)).toEqual([DataType.FLOAT16]);
    const producers = decodeModel(halved).graph!.node!.filter((n) => n.output!.includes(cut.name));
    expect(producers.map((n) => [n.opType, Number(n.attribute!.find((a) => a.name === "to")!.i)])).toEqual([["Cast", DataType.FLOAT16]]);
    const shipped = (await run(halved, x, cut.name)) as unknown as Uint16Array;
    expect(shipped).toBeInstanceOf(Uint16Array);
    // Computed in half precision inside, the shipped values stay near the reference's.
    const far = Math.max(...Array.from(shipped, (h, i) => Math.abs(fromHalfBits(h) - values[i]!) / Math.max(1, Math.abs(values[i]!))));
    expect(far).toBeLessThan(0.05);
  });
  it("is taken as float16 by every file that reads it, an edge file too", () => {
    const ir = irOf(`model shared
input image: u8[16, 16, 3]
labels 4
device edge: edge_fp16_45nm {}
block main on edge {
  f = relu(conv2d(image, 4))
  exit main over all = dense(gap(f), num_classes)
}
block ext on edge {
  exit ext over all = dense(gap(relu(conv2d(main.f, 4))), num_classes)
}
block head on cloud {
  exit head over all = dense(flatten(main.f), num_classes)
}
route {
  head when max_prob(main) < 0.3
  ext when max_prob(main) < 0.5
  main otherwise
}`);
    const io = planPartitions(ir).flatMap((p) => [...p.inputs, ...p.outputs].filter((x) => x.name === "main.f").map((x) => [p.path, x.dtype]));
    expect(io).toEqual([["edge/main.onnx", "float16"], ["edge/ext.onnx", "float16"], ["cloud/model.onnx", "float16"]]);
  });
});

describe("int8", () => {
  it("weights: one symmetric scale per output channel, values within ±63, each within half a step", () => {
    const rng = mulberry32(2);
    const dims = [5, 3, 2, 2];
    const w = Float32Array.from({ length: 60 }, (_, i) => (rng() - 0.5) * (1 + Math.floor(i / 12)));
    const { q, scales } = quantizeWeights(w, dims, 0);
    expect(scales).toHaveLength(5);
    for (let i = 0; i < w.length; i++) {
      const s = scales[Math.floor(i / 12)]!;
      expect(Math.abs(q[i]!)).toBeLessThanOrEqual(WEIGHT_QMAX);
      expect(Math.abs(q[i]! * s - w[i]!)).toBeLessThanOrEqual(s / 2 + 1e-7);
    }
    // The largest weight of each channel takes the top of the range.
    for (let c = 0; c < 5; c++) expect(Math.max(...Array.from(q.subarray(c * 12, c * 12 + 12), Math.abs))).toBe(WEIGHT_QMAX);
  });

  it("activations: zero is exactly representable, the range is covered", () => {
    for (const r of [{ min: -1.3, max: 4.1 }, { min: 0, max: 6 }, { min: 0.5, max: 2 }, { min: -3, max: -1 }]) {
      const p = uint8Params(r);
      expect(Number.isInteger(p.zeroPoint) && p.zeroPoint >= 0 && p.zeroPoint <= 255).toBe(true);
      expect(p.scale * (0 - p.zeroPoint)).toBeLessThanOrEqual(Math.min(r.min, 0) + p.scale);
      expect(p.scale * (255 - p.zeroPoint)).toBeGreaterThanOrEqual(Math.max(r.max, 0) - p.scale);
    }
    expect(uint8Params({ min: 0, max: 6 }).zeroPoint).toBe(0);
  });

  it("a calibrated int8 file runs integer kernels and agrees with its float32 form on fresh images", async () => {
    const ir = irOf(SPEC);
    const plan = planPartitions(ir)[0]!;
    const float = emitOnnx(ir, plan, randomLookup(ir, 7), INFO);
    const qp = quantizationPlan(decodeModel(float));
    // ReLUs folded into the quantization of the convolution or sum before them.
    expect(qp.sites.filter((s) => s.folds).length).toBe(4);
    const file: ObservedFile = { path: plan.path, bytes: observeModel(float, qp.observe), inputs: plan.inputs, outputs: plan.outputs, observe: qp.observe };
    const size = 12 * 12 * 3;
    const images = { images: pixels(256, size, 9), count: 256, source: "seeded pixels" };
    const io = { tensor: ir.input.tensor, name: "image", dtype: "uint8", shape: [12, 12, 3] };
    const ranges = await calibrateRanges([file], images, io, { method: "minmax", percentile: 99.99, images: 256 });
    const q = quantizeModel(float, ranges.get(plan.path)!);
    // Deterministic: the same ranges give the same bytes.
    expect(quantizeModel(float, ranges.get(plan.path)!)).toEqual(q);
    const graph = decodeModel(q).graph!;
    expect(graph.initializer!.filter((t) => t.dataType === DataType.FLOAT && t.rawData!.byteLength > 64).map((t) => t.name)).toEqual([]);
    // onnxruntime fuses the QDQ form into integer convolutions.
    const optimized = join(mkdtempSync(join(tmpdir(), "meanet-q-")), "optimized.onnx");
    await (await ort.InferenceSession.create(q, { graphOptimizationLevel: "all", optimizedModelFilePath: optimized })).release();
    const ops = decodeModel(readFileSync(optimized)).graph!.node!.map((n) => n.opType);
    expect(ops.filter((o) => o === "QLinearConv").length).toBeGreaterThanOrEqual(3);
    expect(ops.filter((o) => o === "Conv" || o === "FusedConv")).toEqual([]);
    const x = { image: new ort.Tensor("uint8", pixels(500, size, 10), [500, 12, 12, 3]) };
    const [a, b] = [await run(float, x, "probs_main"), await run(q, x, "probs_main")];
    let agree = 0;
    const argmax = (p: Float32Array, r: number) => [...p.subarray(r * 6, r * 6 + 6)].reduce((best, v, i, all) => (v > all[best]! ? i : best), 0);
    for (let r = 0; r < 500; r++) if (argmax(a, r) === argmax(b, r)) agree++;
    expect(agree / 500).toBeGreaterThanOrEqual(0.9);
    const diff = Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
    expect(diff).toBeGreaterThan(1e-6);
    expect(diff).toBeLessThan(0.15);
  });

  it("the weight bytes the compiler counts for a file are the bytes of its weights, biases and norms in the file at every precision", async () => {
    // A folded norm (after a convolution without bias), one left unfolded (after a sum), biases and none.
    const spec = (precision: string) => `${SPEC.replace("c = relu(add(a, b))", "c = relu(batchnorm(add(a, b)))")}
device edge: edge_int8_45nm { precision: ${precision} }
`;
    for (const precision of ["fp32", "fp16", "int8"]) {
      const ir = irOf(spec(precision));
      const plan = planPartitions(ir)[0]!;
      const float = emitOnnx(ir, plan, randomLookup(ir, 4), INFO);
      let file = float;
      if (precision === "fp16") file = toFloat16(float);
      if (precision === "int8") {
        const qp = quantizationPlan(decodeModel(float));
        const observed: ObservedFile = { path: plan.path, bytes: observeModel(float, qp.observe), inputs: plan.inputs, outputs: plan.outputs, observe: qp.observe };
        const io = { tensor: ir.input.tensor, name: "image", dtype: "uint8", shape: [12, 12, 3] };
        const ranges = await calibrateRanges([observed], { images: pixels(16, 12 * 12 * 3, 3), count: 16, source: "seeded pixels" }, io, { method: "minmax", percentile: 99.99, images: 16 });
        file = quantizeModel(float, ranges.get(plan.path)!);
      }
      // What the count leaves out: scalars (activation scales and zero points, clip bounds) and int64 shapes.
      const stored = decodeModel(file).graph!.initializer!.filter((t) => t.dataType !== DataType.INT64 && (t.dims ?? []).reduce((a: number, b) => a * Number(b), 1) > 1);
      const compiled = plan.nodes.reduce((t, id) => t + ir.nodes[id]!.weightBytes, 0);
      expect(compiled, precision).toBe(stored.reduce((t, x) => t + x.rawData!.byteLength, 0));
    }
  });

  it("a calibration set that is empty or of the wrong shape is MN5011", async () => {
    const io = { tensor: 0, name: "image", dtype: "uint8", shape: [12, 12, 3] };
    const c = { method: "minmax" as const, percentile: 99.99, images: 8 };
    await expect(calibrateRanges([], { images: new Uint8Array(0), count: 0, source: "nothing" }, io, c)).rejects.toMatchObject({ code: "MN5011", message: expect.stringContaining("empty") });
    await expect(calibrateRanges([], { images: new Uint8Array(28 * 28 * 4), count: 4, source: "28×28 images" }, io, c)).rejects.toMatchObject({ code: "MN5011", message: expect.stringContaining("12×12×3") });
  });
});

describe("calibration methods", () => {
  /** Statistics of a million values spread over [0, 1] and one outlier at 50. */
  function stats() {
    const hist = new Float64Array(2048);
    const width = 50 / 2048;
    for (let i = 0; i < 1e6; i++) hist[Math.floor(i / 1e6 / width)]! += 1;
    hist[2047] = 1;
    return { min: 0, max: 50, hist };
  }

  it("minmax keeps the observed range; percentile and mse clip the rare outliers", () => {
    const s = stats();
    expect(chooseRange(s, { method: "minmax", percentile: 99.99, images: 1 })).toEqual({ min: 0, max: 50 });
    const p = chooseRange(s, { method: "percentile", percentile: 99.99, images: 1 });
    expect(p.min).toBe(0);
    expect(p.max).toBeGreaterThan(0.9);
    expect(p.max).toBeLessThan(1.1);
    // A P below 50 names the same range as 100 − P.
    expect(chooseRange(s, { method: "percentile", percentile: 0.5, images: 1 })).toEqual(p);
    // Clipping at h costs (50 − h)² once and (h/255)²/12 on each of a million values: least at h ≈ 21.9.
    const m = chooseRange(s, { method: "mse", percentile: 99.99, images: 1 });
    expect(m.max).toBeGreaterThan(20);
    expect(m.max).toBeLessThan(24);
  });

  it("reads the command line's method", () => {
    expect(parseCalibrationMethod("minmax")).toEqual({ method: "minmax" });
    expect(parseCalibrationMethod("percentile(99.9)")).toEqual({ method: "percentile", percentile: 99.9 });
    expect(parseCalibrationMethod(" MSE ")).toEqual({ method: "mse" });
    expect(parseCalibrationMethod("percentil")).toEqual({ problem: expect.stringContaining("unknown calibration method `percentil`") });
    expect(parseCalibrationMethod("percentile(150)")).toEqual({ problem: expect.stringContaining("(0, 100]") });
    expect(parseCalibrationMethod("percentile(0)")).toEqual({ problem: expect.stringContaining("not `0`") });
    expect(parseCalibrationMethod("mse(3)")).toEqual({ problem: "`mse` takes no argument" });
  });
});
