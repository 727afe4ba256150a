/**
 * Numeric parity of the ONNX exporter (src/codegen/onnx) with the tfjs models training builds:
 * small specs that use every op lowering and attribute path, all weights (batch-norm statistics
 * included) drawn from a seeded RNG, a fresh random uint8 batch, and every file's outputs run with
 * onnxruntime, files chained as a deployment would chain them.
 */
import { mulberry32 } from "../src/runtime/train/data/rng.js";
import { readFileSync } from "node:fs";
import * as ort from "onnxruntime-node";
import { beforeAll, describe, expect, it } from "vitest";
import { emitIrJson, type IrJson } from "../src/codegen/index.js";
import type { PartitionPlan } from "../src/format/manifest.js";
import { decodeModel, emitOnnx, planPartitions, type OnnxModelInfo, type WeightLookup } from "../src/codegen/onnx/index.js";
import { LOWERINGS } from "../src/codegen/onnx/ops/index.js";
import { expectedWeights, lookupIn, weightName, type WeightStore } from "../src/runtime/export/weights.js";
import { selectBackend } from "../src/runtime/train/backend.js";
import { buildBlockModel, layerName, type BlockModel } from "../src/runtime/train/builder.js";
import { inputTensor, runBlocks, topoBlocks } from "../src/runtime/train/forward.js";
import { tf, type Tensor } from "../src/runtime/train/tf.js";
import { compileText, errorCodes } from "./helpers/compile.js";
import { autoCutSpec } from "./helpers/cut.js";

const INFO: OnnxModelInfo = { producerVersion: "test", docString: "onnx parity test", metadata: [["meanet.test", "1"]] };

/** Convolutions: every padding / stride / dilation / group / bias path, on a non-square 11×10 input. */
const CONVS = `
model convs
input image: u8[11, 10, 3]
labels 5

block main on edge {
  # same, stride 1, odd kernel: symmetric padding
  a = conv2d(image, 6, kernel: 3)
  # same, stride 1, even kernel: the extra row/column at the end; batch norm folded, no conv bias
  b = relu(batchnorm(conv2d(a, 8, kernel: 2, bias: false), epsilon: 0.5))
  # same, stride 2: H 11 → 6 pads (1, 1), W 10 → 5 pads (0, 1)
  c = conv2d(b, 8, kernel: 3, stride: 2)
  # grouped, same, stride 2, kernel 4: H 6 → 3 pads (1, 1), W 5 → 3 pads (1, 2); batch norm folded into it
  d = batchnorm(conv2d(c, 8, kernel: 4, stride: 2, groups: 2, bias: false), epsilon: 0.25)
  exit main over all = dense(flatten(d), num_classes)
}

block pads on edge {
  a = conv2d(image, 4, kernel: 3, padding: valid)
  # explicit padding, grouped, with bias
  b = conv2d(a, 6, kernel: 3, padding: 2, groups: 2)
  # dilation 2, same
  c = conv2d(b, 6, kernel: 3, dilation: 2)
  # dilation 2 with explicit padding, folded batch norm
  e = batchnorm(conv2d(c, 6, kernel: 2, dilation: 2, padding: 1, bias: false), epsilon: 0.2)
  # explicit padding 0 with stride 2
  g = conv2d(e, 4, kernel: 3, stride: 2, padding: 0)
  exit pads over all = dense(gap(g), num_classes, bias: false)
}

block dw on cloud {
  a = depthwise_conv2d(image, kernel: 3)
  b = batchnorm(depthwise_conv2d(a, kernel: 3, multiplier: 2, stride: 2, bias: false), epsilon: 0.3)
  c = depthwise_conv2d(b, kernel: 3, padding: 1)
  d = batchnorm(depthwise_conv2d(c, kernel: 2, multiplier: 2, padding: valid), epsilon: 0.1)
  e = conv2d(d, 8, kernel: 1, groups: 4, padding: valid)
  exit dw over all = dense(flatten(e), num_classes)
}

route {
  main when max_prob(main) > 0.9
  pads when max_prob(pads) > 0.9
  dw otherwise
}
`;

/**
 * Batch norms that cannot be folded, merges, pools, relu6, vectors crossing files, softmax and
 * dropout; a float32 image input (scaled by 1/255 inside the model as well).
 */
const MERGE = `
model merge
input image: f32[11, 10, 2]
labels 4

block main on edge {
  a = conv2d(image, 6, kernel: 3, bias: false)
  # a is read by four more nodes, so this batch norm stays a BatchNormalization
  n = batchnorm(a, epsilon: 0.3)
  # batch norm after an add of two maps
  s = batchnorm(add(a, n))
  # same pooling on odd and even sizes: H 11 → 6 pads (1, 1), W 10 → 5 pads (0, 1)
  p = max_pool(s, kernel: 3, stride: 2, padding: same)
  q = avg_pool(s, kernel: 3, stride: 2, padding: same)
  # explicit padding: −∞ for the max, counted zeros for the average
  r = max_pool(a, kernel: 3, stride: 2, padding: 1)
  t = avg_pool(a, kernel: 3, stride: 2, padding: 1)
  # batch norm after a concat of maps
  u = batchnorm(concat(p, q, r, t), epsilon: 0.1)
  v = relu6(u)
  w = max_pool(v, kernel: 2)
  y = avg_pool(v, kernel: 2, padding: valid)
  # add of three maps
  features = add(w, y, max_pool(u, kernel: 2))
  exit main over all = dense(dropout(flatten(features), rate: 0.3), num_classes)
}

block cloud on cloud {
  # batch norm of a map made in another file
  f = batchnorm(main.features)
  # zero rows, columns and channels around values of both signs
  f = pad(f, top: 1, bottom: 2, right: 1, channels: 3)
  g = relu(conv2d(f, 8, kernel: 3))
  h = gap(g)
  # batch norm after a dense layer
  k = batchnorm(dense(h, 6, bias: false), epsilon: 0.05)
  # concat of vectors, one of them the main exit's scores from the edge file
  m = concat(k, main.main, softmax(dense(h, 3)))
  m = relu6(add(m, dense(m, 13), m))
  exit cloud over all = dense(dropout(m, rate: 0.5), num_classes)
}

route {
  cloud when entropy(main) > 0.5
  main otherwise
}
`;

/** A vector input, a batch norm after dense, and a vector crossing to the cloud. */
const VECTOR = `
model vec
input signal: f32[12]
labels 3

block main on edge {
  a = batchnorm(dense(signal, 8))
  exit main over all = dense(relu(a), num_classes)
}

block cloud on cloud {
  b = concat(signal, main.a)
  exit cloud over all = dense(relu6(batchnorm(dense(b, 10), epsilon: 0.5)), num_classes)
}

route {
  cloud when margin(main) < 0.2
  main otherwise
}
`;

/**
 * Dilated depthwise convolutions (same, explicit and valid padding, a multiplier, a folded batch
 * norm), the last one's output crossing to the cloud. tfjs-layers' DepthwiseConv2D ignores
 * \`dilationRate\`, so the reference here is written with tfjs-core ops (see handReference).
 */
const DILATED = `
model dil
input image: u8[11, 10, 3]
labels 5

block main on edge {
  a = depthwise_conv2d(image, kernel: 3, dilation: 2)
  b = batchnorm(depthwise_conv2d(a, kernel: 3, multiplier: 2, dilation: 2, padding: 1, bias: false), epsilon: 0.3)
  c = depthwise_conv2d(b, kernel: 2, dilation: 2, padding: valid)
  exit main over all = dense(gap(c), num_classes)
}

block head on cloud {
  exit head over all = dense(flatten(main.c), num_classes)
}

route {
  head when max_prob(main) < 0.5
  main otherwise
}
`;

const AUTO = autoCutSpec("far");

function irOf(text: string, name = "spec.meanet"): IrJson {
  const r = compileText(text, name);
  expect(errorCodes(r), r.diagnostics.map((d) => d.message).join("\n")).toEqual([]);
  return emitIrJson(r.ir!, r.shapes, r.results);
}

const rng = mulberry32;

/** Random values for one tfjs weight by kind; batch-norm statistics far from the identity so folding errors show. */
function randomValues(kind: string, shape: number[], r: () => number): Float32Array {
  const count = shape.reduce((a, b) => a * b, 1);
  const uniform = (lo: number, hi: number) => lo + (hi - lo) * r();
  const out = new Float32Array(count);
  let fill: () => number;
  switch (kind) {
    case "kernel": {
      const limit = Math.sqrt(6 / (count / shape[shape.length - 1]!));
      fill = () => uniform(-limit, limit);
      break;
    }
    case "depthwise_kernel": {
      const limit = Math.sqrt(6 / (shape[0]! * shape[1]!));
      fill = () => uniform(-limit, limit);
      break;
    }
    case "bias":
      fill = () => uniform(-0.5, 0.5);
      break;
    case "gamma":
      // Some negative scales too: a fold must carry the sign.
      fill = () => (r() < 0.2 ? -1 : 1) * uniform(0.5, 2.5);
      break;
    case "beta":
    case "moving_mean":
      fill = () => uniform(-1, 1);
      break;
    case "moving_variance":
      fill = () => uniform(0.2, 4);
      break;
    default:
      throw new Error(`unexpected weight kind ${kind}`);
  }
  for (let i = 0; i < count; i++) out[i] = fill();
  return out;
}

interface Built {
  ir: IrJson;
  models: Map<string, BlockModel>;
  store: WeightStore;
  lookup: WeightLookup;
}

/** tfjs models of every block with seeded random weights, and the same weights read back for the exporter. */
function buildRandom(ir: IrJson, seed: number): Built {
  const r = rng(seed);
  const models = new Map<string, BlockModel>();
  const store: WeightStore = new Map();
  for (const name of topoBlocks(ir)) {
    const bm = buildBlockModel(ir, ir.blocks.find((b) => b.name === name)!, seed);
    const fresh = bm.model.weights.map((v) => tf.tensor(randomValues(v.originalName.split("/").pop()!, v.shape as number[], r), v.shape as number[]));
    bm.model.setWeights(fresh);
    for (const t of fresh) t.dispose();
    const back = bm.model.getWeights();
    bm.model.weights.forEach((v, i) => store.set(v.originalName, { shape: back[i]!.shape, data: (back[i]!.dataSync() as Float32Array).slice() }));
    models.set(name, bm);
  }
  // The store holds exactly what the IR says each node needs, under the exporter's names.
  const expected = ir.nodes.flatMap((n) => expectedWeights(ir, n).map(([kind, shape]) => [weightName(n, kind), shape] as const));
  expect(new Set(store.keys())).toEqual(new Set(expected.map(([n]) => n)));
  for (const [n, shape] of expected) expect(store.get(n)!.shape, n).toEqual(shape);
  return { ir, models, store, lookup: lookupIn(store) };
}

function dispose(b: Built): void {
  for (const bm of b.models.values()) bm.model.dispose();
}

function randomPixels(ir: IrJson, batch: number, seed: number): Uint8Array {
  const r = rng(seed);
  const px = new Uint8Array(batch * ir.input.shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < px.length; i++) px[i] = Math.floor(r() * 256);
  return px;
}

interface RefValue {
  shape: number[];
  data: Float32Array;
}

/**
 * The tfjs values of the given tensors for a batch: exit tensors as softmax probabilities, other
 * tensors as they are (NHWC). Tensors inside a block (an auto cut) come from a sub-model.
 */
function reference(b: Built, pixels: Uint8Array, batch: number, wanted: { tensor: number; probs: boolean }[]): RefValue[] {
  const { ir, models } = b;
  return tf.tidy(() => {
    const x =
      ir.input.shape.length === 3
        ? inputTensor(pixels, batch, ir.input.shape)
        : tf.div(tf.tensor2d(Float32Array.from(pixels), [batch, ir.input.shape[0]!]), 255);
    const values = new Map<number, Tensor>([[ir.input.tensor, x]]);
    runBlocks(ir, models, topoBlocks(ir), values, () => false);
    const valueOf = (id: number): Tensor => {
      const known = values.get(id);
      if (known) return known;
      const bm = models.get(ir.tensors[id]!.block)!;
      const layer = bm.model.getLayer(layerName(ir.nodes[ir.tensors[id]!.producer]!.name));
      const sub = tf.model({ inputs: bm.model.inputs, outputs: layer.output as tf.SymbolicTensor });
      const ins = bm.inputs.map((i) => values.get(i)!);
      const out = sub.predict(ins.length === 1 ? ins[0]! : ins) as Tensor;
      values.set(id, out);
      return out;
    };
    return wanted.map(({ tensor, probs }) => {
      const t = probs ? tf.softmax(valueOf(tensor)) : valueOf(tensor);
      return { shape: t.shape, data: (t.dataSync() as Float32Array).slice() };
    });
  });
}

interface OutputCheck {
  file: string;
  output: string;
  exit: string | null;
  diff: number;
  tolerance: number;
  /** Largest |value| of the reference. */
  scale: number;
}

function inputFeed(ir: IrJson, pixels: Uint8Array, batch: number): ort.Tensor {
  const dims = [batch, ...ir.input.shape];
  if (ir.input.dtype === "uint8") return new ort.Tensor("uint8", pixels, dims);
  if (ir.input.dtype === "float32") return new ort.Tensor("float32", Float32Array.from(pixels), dims);
  throw new Error(`test inputs of dtype ${ir.input.dtype} are not supported`);
}

interface OnnxRun {
  plans: PartitionPlan[];
  bytes: Map<string, Uint8Array>;
  /** Outputs of every file, by file path and output name. */
  results: Map<string, Map<string, ort.Tensor>>;
}

/** Emits every file and runs them in onnxruntime, each file fed the outputs of the files before it. */
async function runOnnx(ir: IrJson, lookup: WeightLookup, pixels: Uint8Array, batch: number): Promise<OnnxRun> {
  const plans = planPartitions(ir);
  const bytes = new Map(plans.map((p) => [p.path, emitOnnx(ir, p, lookup, INFO)]));
  const available = new Map<string, ort.Tensor>([[ir.input.name, inputFeed(ir, pixels, batch)]]);
  const results = new Map<string, Map<string, ort.Tensor>>();
  const pending = [...plans];
  while (pending.length) {
    const i = pending.findIndex((p) => p.inputs.every((io) => available.has(io.name)));
    expect(i, `a file whose inputs are all available among ${pending.map((p) => p.path).join(", ")}`).toBeGreaterThanOrEqual(0);
    const plan = pending.splice(i, 1)[0]!;
    expect(plan.outputs.length, `${plan.path} has outputs`).toBeGreaterThan(0);
    const session = await ort.InferenceSession.create(bytes.get(plan.path)!);
    expect([...session.inputNames].sort()).toEqual(plan.inputs.map((io) => io.name).sort());
    expect([...session.outputNames].sort()).toEqual(plan.outputs.map((io) => io.name).sort());
    const out = await session.run(Object.fromEntries(plan.inputs.map((io) => [io.name, available.get(io.name)!])));
    await session.release();
    const mine = new Map<string, ort.Tensor>();
    for (const io of plan.outputs) {
      const t = out[io.name]!;
      mine.set(io.name, t);
      if (!io.exit) available.set(io.name, t);
    }
    results.set(plan.path, mine);
  }
  return { plans, bytes, results };
}

/** Every output of every file against its reference (`refs` in the order of the files' outputs). */
function compare(run: OnnxRun, refs: RefValue[], batch: number): OutputCheck[] {
  const outputs = run.plans.flatMap((plan) => plan.outputs.map((io) => ({ plan, io })));
  expect(refs).toHaveLength(outputs.length);
  return outputs.map(({ plan, io }, k): OutputCheck => {
    const got = run.results.get(plan.path)!.get(io.name)!;
    const ref = refs[k]!;
    expect(got.dims, `${plan.path} ${io.name} dims`).toEqual([batch, ...io.shape]);
    expect(ref.shape, `${plan.path} ${io.name} reference shape`).toEqual([batch, ...io.shape]);
    const data = got.data as Float32Array;
    let diff = 0;
    let scale = 0;
    for (let j = 0; j < data.length; j++) {
      const d = Math.abs(data[j]! - ref.data[j]!);
      diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
      scale = Math.max(scale, Math.abs(ref.data[j]!));
    }
    const tolerance = io.exit ? 1e-4 : 1e-4 * Math.max(1, scale);
    return { file: plan.path, output: io.name, exit: io.exit, diff, tolerance, scale };
  });
}

/** runOnnx, then every output of every file against the tfjs models. */
async function parity(b: Built, pixels: Uint8Array, batch: number, lookup: WeightLookup = b.lookup): Promise<OnnxRun & { checks: OutputCheck[] }> {
  const run = await runOnnx(b.ir, lookup, pixels, batch);
  const refs = reference(b, pixels, batch, run.plans.flatMap((p) => p.outputs.map((io) => ({ tensor: io.tensor, probs: io.exit !== null }))));
  return { ...run, checks: compare(run, refs, batch) };
}

function expectClose(checks: OutputCheck[]): void {
  for (const c of checks) expect(c.diff, `${c.file} ${c.output}: max |onnx − tfjs| = ${c.diff} (tolerance ${c.tolerance})`).toBeLessThanOrEqual(c.tolerance);
}

function opTypes(bytes: Uint8Array): string[] {
  return decodeModel(bytes).graph!.node!.map((n) => n.opType!);
}

function count(list: string[], x: string): number {
  return list.filter((y) => y === x).length;
}

describe("ONNX export: numeric parity with tfjs", () => {
  beforeAll(async () => {
    await selectBackend("cpu");
  });

  it("the specs use every op the exporter lowers", () => {
    const ops = new Set([CONVS, MERGE, VECTOR, DILATED, AUTO].flatMap((s) => irOf(s).nodes.map((n) => n.op)));
    expect([...ops].sort()).toEqual(Object.keys(LOWERINGS).sort());
  });

  it("convolutions: same/valid/explicit padding, strides, dilation, groups, depthwise multipliers, folded batch norms", async () => {
    const b = buildRandom(irOf(CONVS), 101);
    const batch = 4;
    const { plans, bytes, checks } = await parity(b, randomPixels(b.ir, batch, 7), batch);
    expect(plans.map((p) => p.path)).toEqual(["edge/main.onnx", "edge/pads.onnx", "cloud/model.onnx"]);
    expectClose(checks);
    expect(checks.map((c) => c.output)).toEqual(["probs_main", "probs_pads", "probs_dw"]);
    // Every batch norm here follows a convolution nothing else reads: all folded.
    const ops = [...bytes.values()].flatMap(opTypes);
    expect(count(ops, "BatchNormalization")).toBe(0);
    expect(count(ops, "Conv")).toBe(b.ir.nodes.filter((n) => n.op === "conv2d" || n.op === "depthwise_conv2d").length);
    // Not every row is saturated, so the comparison of probabilities sees the logits.
    const probs = reference(b, randomPixels(b.ir, batch, 7), batch, b.ir.exits.map((x) => ({ tensor: x.tensor, probs: true })));
    for (const p of probs) {
      const classes = p.shape[1]!;
      const rowMax = Array.from({ length: batch }, (_, r) => Math.max(...p.data.subarray(r * classes, (r + 1) * classes)));
      expect(Math.min(...rowMax)).toBeLessThan(0.9);
    }
    dispose(b);
  });

  it("a wrong weight is caught: the comparison is not vacuous", async () => {
    const b = buildRandom(irOf(CONVS), 101);
    const batch = 4;
    const pixels = randomPixels(b.ir, batch, 7);
    const off = (name: string, kind: string, delta: number): WeightLookup => (node, k) => {
      const w = b.lookup(node, k);
      if (!w || node.name !== name || k !== kind) return w;
      const data = w.data.slice();
      data[0] = data[0]! + delta;
      return { shape: w.shape, data };
    };
    // One folded batch-norm mean, one folded variance, one kernel entry of a grouped convolution.
    for (const [name, kind, delta, exit] of [
      ["main/batchnorm_1", "moving_mean", 0.5, "probs_main"],
      ["dw/batchnorm_2", "moving_variance", 1, "probs_dw"],
      ["pads/conv2d_2", "kernel", 0.5, "probs_pads"],
    ] as const) {
      const { checks } = await parity(b, pixels, batch, off(name, kind, delta));
      const hit = checks.find((c) => c.output === exit)!;
      expect(hit.diff, `${name}/${kind} perturbed`).toBeGreaterThan(50 * hit.tolerance);
    }
    dispose(b);
  });

  it("unfoldable batch norms, add of 2 and 3, concat of maps and vectors, pools, relu6, softmax, dropout, flatten, pad", async () => {
    const b = buildRandom(irOf(MERGE), 202);
    const batch = 3;
    const pixels = randomPixels(b.ir, batch, 8);
    const { plans, bytes, checks } = await parity(b, pixels, batch);
    expect(plans.map((p) => p.path)).toEqual(["edge/main.onnx", "cloud/model.onnx"]);
    const main = plans[0]!;
    expect(main.outputs.map((io) => [io.name, io.layout])).toEqual([
      ["probs_main", "NC"],
      ["main.features", "NHWC"],
      ["main.main", "NC"],
    ]);
    expect(plans[1]!.inputs.map((io) => io.name)).toEqual(["main.features", "main.main"]);
    expectClose(checks);
    expect(checks.map((c) => c.output).sort()).toEqual(["main.features", "main.main", "probs_cloud", "probs_main"]);
    // Batch norms after something other than a conv only they read: three in the edge file, two in the cloud.
    expect(count(opTypes(bytes.get("edge/main.onnx")!), "BatchNormalization")).toBe(3);
    expect(count(opTypes(bytes.get("cloud/model.onnx")!), "BatchNormalization")).toBe(2);
    const ops = new Set([...bytes.values()].flatMap(opTypes));
    for (const op of ["Sum", "Add", "Concat", "MaxPool", "AveragePool", "GlobalAveragePool", "Clip", "Softmax", "Flatten", "Pad", "Gemm", "Identity", "Div"]) expect(ops, op).toContain(op);
    expect(ops).not.toContain("Cast");
    // relu6 clips on both sides here, and the padded max pool reads negative values at the border.
    const [u, a] = reference(b, pixels, batch, [
      { tensor: b.ir.nodes.find((n) => n.name === "main/batchnorm_3")!.output, probs: false },
      { tensor: b.ir.nodes.find((n) => n.name === "main/conv2d_1")!.output, probs: false },
    ]);
    expect(Math.max(...u!.data)).toBeGreaterThan(6);
    expect(Math.min(...u!.data)).toBeLessThan(0);
    expect(Math.min(...a!.data)).toBeLessThan(0);
    dispose(b);
  });

  it("a vector input, batch norm after dense, a vector crossing to the cloud", async () => {
    const b = buildRandom(irOf(VECTOR), 303);
    const batch = 5;
    const { plans, checks } = await parity(b, randomPixels(b.ir, batch, 9), batch);
    expect(plans.map((p) => [p.path, p.inputs.map((io) => io.name), p.outputs.map((io) => io.name)])).toEqual([
      ["edge/main.onnx", ["signal"], ["probs_main", "main.a"]],
      ["cloud/model.onnx", ["signal", "main.a"], ["probs_cloud"]],
    ]);
    expectClose(checks);
    dispose(b);
  });

  /** Plans, runs and compares the auto spec whose auto block and exit are called `name`. */
  async function autoCase(name: string): Promise<void> {
    const ir = irOf(autoCutSpec(name));
    const cut = ir.partition.auto.find((a) => a.block === name)!;
    const cutNode = ir.nodes.find((n) => n.name === `${name}/conv2d_2`)!;
    expect(ir.blocks.find((x) => x.name === name)!.nodes.filter((n) => ir.nodes[n]!.device === "edge")).toHaveLength(cut.chosen);
    expect(cutNode.device).toBe("edge");
    expect(ir.nodes.find((n) => n.name === `${name}/batchnorm_2`)!.device).toBe("cloud");
    const plans = planPartitions(ir);
    const summary = plans.map((p) => ({ path: p.path, device: p.device, exits: p.exits, inputs: p.inputs.map((io) => io.name), outputs: p.outputs.map((io) => io.name) }));
    expect(summary).toEqual([
      { path: "edge/main.onnx", device: "edge", exits: ["main"], inputs: ["image"], outputs: ["probs_main"] },
      { path: `edge/${name}.onnx`, device: "edge", exits: [], inputs: ["image"], outputs: [`${name}.c`] },
      { path: "cloud/model.onnx", device: "cloud", exits: [name], inputs: [`${name}.c`], outputs: [`probs_${name}`] },
    ]);
    expect(plans[1]!.outputs[0]!).toMatchObject({ tensor: cutNode.output, shape: [8, 8, 2], layout: "NHWC" });
    expect(plans[1]!.nodes.map((n) => ir.nodes[n]!.name)).toEqual(["conv2d_1", "batchnorm_1", "relu_1", "conv2d_2"].map((x) => `${name}/${x}`));
    const b = buildRandom(ir, 404);
    const batch = 4;
    const { bytes, checks } = await parity(b, randomPixels(ir, batch, 10), batch);
    // The edge half folds its batch norm; the cloud half normalises the tensor it receives.
    expect(count(opTypes(bytes.get(`edge/${name}.onnx`)!), "BatchNormalization")).toBe(0);
    expect(count(opTypes(bytes.get("cloud/model.onnx")!), "BatchNormalization")).toBe(1);
    expect(checks.map((c) => c.output)).toEqual(["probs_main", `${name}.c`, `probs_${name}`]);
    expectClose(checks);
    dispose(b);
  }

  it("an auto block cut in two: the edge half in its own file, the cut tensor a cloud input", async () => {
    await autoCase("far");
  });

  // The edge half of an exit named `cloud` once shared its plan name with the cloud file and lost its outputs.
  it("an auto block cut in two whose exit is called `cloud` (plan names kept apart)", async () => {
    await autoCase("cloud");
  });

  /** DILATED computed with tfjs-core ops from the same weights: probs_main, main.c (NHWC), probs_head. */
  function handReference(b: Built, pixels: Uint8Array, batch: number): RefValue[] {
    const w = (node: string, kind: string) => {
      const v = b.store.get(`${node}/${kind}`)!;
      return tf.tensor(v.data, v.shape);
    };
    return tf.tidy(() => {
      const x = inputTensor(pixels, batch, b.ir.input.shape);
      const dw = (t: tf.Tensor4D, node: string, padding: "same" | "valid") => tf.depthwiseConv2d(t, w(node, "depthwise_kernel") as tf.Tensor4D, 1, padding, "NHWC", 2);
      const a = tf.add(dw(x, "main/depthwise_conv2d_1", "same"), w("main/depthwise_conv2d_1", "bias")) as tf.Tensor4D;
      const padded = tf.pad(a, [[0, 0], [1, 1], [1, 1], [0, 0]]);
      const bn = "main/batchnorm_1";
      const bb = tf.batchNorm(dw(padded, "main/depthwise_conv2d_2", "valid"), w(bn, "moving_mean"), w(bn, "moving_variance"), w(bn, "beta"), w(bn, "gamma"), 0.3) as tf.Tensor4D;
      const c = tf.add(dw(bb, "main/depthwise_conv2d_3", "valid"), w("main/depthwise_conv2d_3", "bias"));
      const head = (v: tf.Tensor, node: string) => tf.softmax(tf.add(tf.matMul(v as tf.Tensor2D, w(node, "kernel") as tf.Tensor2D), w(node, "bias")));
      const outs = [head(tf.mean(c, [1, 2]), "main/dense_1"), c, head(tf.reshape(c, [batch, -1]), "head/dense_1")];
      return outs.map((t) => ({ shape: t.shape, data: (t.dataSync() as Float32Array).slice() }));
    });
  }

  it("dilated depthwise convolutions (same, explicit, valid padding; multiplier 2; folded batch norm) against tfjs-core ops", async () => {
    const b = buildRandom(irOf(DILATED), 606);
    const batch = 3;
    const pixels = randomPixels(b.ir, batch, 12);
    const run = await runOnnx(b.ir, b.lookup, pixels, batch);
    expect(run.plans.flatMap((p) => p.outputs.map((io) => io.name))).toEqual(["probs_main", "main.c", "probs_head"]);
    expect(run.plans[0]!.outputs[1]!.shape).toEqual([7, 6, 6]);
    expect(count(opTypes(run.bytes.get("edge/main.onnx")!), "BatchNormalization")).toBe(0);
    expectClose(compare(run, handReference(b, pixels, batch), batch));
    dispose(b);
  });

  it("an option-A basic block (subsampled, zero-padded identity): no shortcut weights, onnxruntime equals tfjs", async () => {
    // The option-A basic block of the standard library: the identity subsampled and zero-padded with the missing channels.
    const spec = `import "std/resnet"
model option_a
input image: u8[9, 8, 3]
labels 4
block main on edge {
  x = relu(batchnorm(conv2d(image, 8, kernel: 3, padding: 1, bias: false)))
  x = basic_block_a(x, 8)
  x = basic_block_a(x, 16, stride: 2)
  exit main over all = dense(gap(x), num_classes)
}
`;
    const ir = irOf(spec);
    const shortcut = ir.nodes.filter((n) => n.name.startsWith("main/basic_block_a_2/"));
    expect(shortcut.map((n) => n.op).filter((op) => op === "pad" || op === "max_pool")).toEqual(["max_pool", "pad"]);
    expect(ir.nodes.filter((n) => n.op === "conv2d")).toHaveLength(5);
    const b = buildRandom(ir, 707);
    const batch = 3;
    const { checks } = await parity(b, randomPixels(b.ir, batch, 13), batch);
    expectClose(checks);
    dispose(b);
  });

  // tfjs-layers' DepthwiseConv2D drops `dilationRate`; the builder uses its own layer for dilation > 1.
  it("the tfjs builder applies the dilation of a depthwise convolution", () => {
    const b = buildRandom(irOf(DILATED), 606);
    const batch = 3;
    const pixels = randomPixels(b.ir, batch, 12);
    const c = b.ir.nodes.find((n) => n.name === "main/depthwise_conv2d_3")!.output;
    const got = tf.tidy(() => {
      const values = new Map<number, Tensor>([[b.ir.input.tensor, inputTensor(pixels, batch, b.ir.input.shape)]]);
      runBlocks(b.ir, b.models, ["main"], values, () => false);
      return { shape: values.get(c)!.shape, data: (values.get(c)!.dataSync() as Float32Array).slice() };
    });
    const want = handReference(b, pixels, batch)[1]!;
    dispose(b);
    // tfjs-layers alone gives [3, 10, 9, 6] (undilated) instead of the IR's [3, 7, 6, 6].
    expect(got.shape).toEqual(want.shape);
    const diff = Math.max(...got.data.map((v, i) => Math.abs(v - want.data[i]!)));
    expect(diff).toBeLessThanOrEqual(1e-4 * Math.max(1, ...want.data.map(Math.abs)));
  });

  it("the Fashion-MNIST example: edge/main.onnx, edge/extension.onnx, cloud/model.onnx, chained results equal tfjs", async () => {
    const path = "examples/fashion-mnist.meanet";
    const ir = irOf(readFileSync(path, "utf8"), path);
    const plans = planPartitions(ir);
    const io = (list: PartitionPlan["inputs"]) => list.map((x) => [x.name, x.shape, x.layout, x.dtype]);
    expect(plans.map((p) => [p.path, p.device, p.exits])).toEqual([
      ["edge/main.onnx", "edge", ["main"]],
      ["edge/extension.onnx", "edge", ["extension"]],
      ["cloud/model.onnx", "cloud", ["cloud"]],
    ]);
    const [main, extension, cloud] = plans as [PartitionPlan, PartitionPlan, PartitionPlan];
    expect(io(main.inputs)).toEqual([["image", [28, 28, 1], "NHWC", "uint8"]]);
    expect(io(main.outputs)).toEqual([
      ["probs_main", [10], "NC", "float32"],
      ["main.features", [7, 7, 64], "NHWC", "float32"],
    ]);
    expect(io(extension.inputs)).toEqual([
      ["image", [28, 28, 1], "NHWC", "uint8"],
      ["main.features", [7, 7, 64], "NHWC", "float32"],
    ]);
    expect(io(extension.outputs)).toEqual([["probs_extension", [ir.hardClasses.count], "NC", "float32"]]);
    expect(io(cloud.inputs)).toEqual([["image", [28, 28, 1], "NHWC", "uint8"]]);
    expect(io(cloud.outputs)).toEqual([["probs_cloud", [10], "NC", "float32"]]);
    const nodesOf = (p: PartitionPlan) => new Set(p.nodes.map((n) => ir.nodes[n]!.block));
    expect(nodesOf(main)).toEqual(new Set(["main"]));
    expect(nodesOf(extension)).toEqual(new Set(["adaptive", "extension"]));
    expect(nodesOf(cloud)).toEqual(new Set(["cloud"]));
    const b = buildRandom(ir, 505);
    const batch = 3;
    const { checks } = await parity(b, randomPixels(ir, batch, 11), batch);
    expect(checks.map((c) => c.output)).toEqual(["probs_main", "main.features", "probs_extension", "probs_cloud"]);
    expectClose(checks);
    dispose(b);
  });

  it("the same IR and weights give byte-identical files", () => {
    for (const [text, seed] of [[CONVS, 1], [MERGE, 2], [AUTO, 3]] as const) {
      const b = buildRandom(irOf(text), seed);
      // A fresh compile and a copied weight store must not change a byte either.
      const again = irOf(text);
      const copy: WeightStore = new Map([...b.store].map(([k, v]) => [k, { shape: [...v.shape], data: v.data.slice() }]));
      const first = planPartitions(b.ir).map((p) => emitOnnx(b.ir, p, b.lookup, INFO));
      const second = planPartitions(again).map((p) => emitOnnx(again, p, lookupIn(copy), INFO));
      expect(second.length).toBe(first.length);
      first.forEach((bytes, i) => expect(Buffer.from(second[i]!).equals(Buffer.from(bytes))).toBe(true));
      dispose(b);
    }
  });
});
