/**
 * The deferral model (src/format/defer.ts) as an ONNX file, edge/defer.onnx: it takes the
 * probabilities of the exits the model reads and gives `defer`, the score in (0, 1). The features are
 * computed inside the file exactly as `writeFeatures` writes them (per exit: the probabilities, then
 * normalized entropy, top probability and margin), then the small MLP and its sigmoid run as
 * `deferScore` does. Pure: the same model and names give the same bytes.
 */
import { deferralProblem, featureCount, type DeferralModel } from "../../format/defer.js";
import { OnnxGraph } from "./graph.js";
import { DataType, encodeModel, IR_VERSION, onnx, OPSET, valueInfo, floatTensor } from "./proto.js";
import { DEFER_OUTPUT } from "../../format/manifest.js";

export interface DeferralOnnxInfo {
  /** The tool's version, as the file's producer version. */
  producer: string;
  docString?: string;
  /** The build's metadata entries, written before the file's own (`meanet.inputs`, `meanet.hidden`, `meanet.output`). */
  metadata?: [string, string][];
}


/** Smallest probability the entropy takes the logarithm of: a zero probability then adds 0·log(1e-30) = 0, as the reference skips it. */
const LOG_FLOOR = 1e-30;

/** `[N, 1]` zeros shaped like `p`, which is `[N, 1]` itself: the normalized entropy of a one-output exit. */
function zerosLike(g: OnnxGraph, p: string, base: string): string {
  const shape = g.op("Shape", [p], {}, g.unique(`${base}.shape`));
  const out = g.unique(`${base}.normalized_entropy`);
  const value = { name: "value", type: onnx.AttributeProto.AttributeType.TENSOR, t: floatTensor("value", [1], Float32Array.of(0)) };
  g.nodes.push({ name: g.unique(`${out}:ConstantOfShape`), opType: "ConstantOfShape", input: [shape], output: [out], attribute: [value] });
  return out;
}

/** −Σ p·log(p) / ln k over the classes, `[N, 1]`. */
function normalizedEntropy(g: OnnxGraph, p: string, k: number, base: string): string {
  const floor = g.floats(`${base}.log_floor`, [], Float32Array.of(LOG_FLOOR));
  const logs = g.op("Log", [g.op("Max", [p, floor], {}, g.unique(`${base}.floored`))], {}, g.unique(`${base}.log`));
  const terms = g.op("Mul", [p, logs], {}, g.unique(`${base}.plogp`));
  const axes = g.int64s(`${base}.axes`, [1], [1]);
  const sum = g.op("ReduceSum", [terms, axes], { keepdims: 1 }, g.unique(`${base}.sum_plogp`));
  const scale = g.floats(`${base}.minus_ln_k`, [], Float32Array.of(-Math.log(k)));
  return g.op("Div", [sum, scale], {}, g.unique(`${base}.normalized_entropy`));
}

/** The top probability minus the second, `[N, 1]`, from TopK's two largest values. */
function topMargin(g: OnnxGraph, p: string, base: string): string {
  const k = g.int64s(`${base}.top_k`, [1], [2]);
  const values = g.unique(`${base}.top2`);
  const indices = g.unique(`${base}.top2_indices`);
  g.nodes.push({ name: g.unique(`${values}:TopK`), opType: "TopK", input: [p, k], output: [values, indices], attribute: [] });
  const axes = g.int64s(`${base}.slice_axes`, [1], [1]);
  const column = (i: number, name: string) =>
    g.op("Slice", [values, g.int64s(`${base}.${name}_start`, [1], [i]), g.int64s(`${base}.${name}_end`, [1], [i + 1]), axes], {}, g.unique(`${base}.${name}`));
  return g.op("Sub", [column(0, "top1"), column(1, "top2")], {}, g.unique(`${base}.margin`));
}

/**
 * One exit's features, in writeFeatures' order: the k probabilities, normalized entropy, top
 * probability, margin. With one output the normalized entropy is 0 and the margin is the top
 * probability itself.
 */
function exitFeatures(g: OnnxGraph, p: string, k: number): string[] {
  const entropy = k > 1 ? normalizedEntropy(g, p, k, p) : zerosLike(g, p, p);
  const max = g.op("ReduceMax", [p], { axes: [1], keepdims: 1 }, g.unique(`${p}.max_prob`));
  const margin = k > 1 ? topMargin(g, p, p) : p;
  return [p, entropy, max, margin];
}

/** The MLP on the features, then the sigmoid into `defer`: Gemm, Relu, Gemm with hidden units, a single Gemm without. */
function scoreLayers(g: OnnxGraph, model: DeferralModel, features: string, f: number): void {
  const h = model.hidden;
  const w1 = g.floats("w1", [f, h === 0 ? 1 : h], Float32Array.from(model.w1));
  const b1 = g.floats("b1", [h === 0 ? 1 : h], Float32Array.from(model.b1));
  let z = g.op("Gemm", [features, w1, b1], {}, g.unique(h === 0 ? "logit" : "hidden"));
  if (h > 0) {
    const relu = g.op("Relu", [z], {}, g.unique("hidden.relu"));
    const w2 = g.floats("w2", [h, 1], Float32Array.from(model.w2));
    const b2 = g.floats("b2", [1], Float32Array.from(model.b2));
    z = g.op("Gemm", [relu, w2, b2], {}, g.unique("logit"));
  }
  g.op("Sigmoid", [z], {}, DEFER_OUTPUT);
}

/**
 * The deferral model as ONNX (opset 17, IR version 8) with a dynamic batch: one float32 input
 * `[N, k]` per exit of `model.exits`, named by `inputs` in the same order, and the output `defer`,
 * float32 `[N, 1]`.
 */
export function emitDeferralOnnx(model: DeferralModel, inputs: { name: string }[], info: DeferralOnnxInfo): Uint8Array {
  const problem = deferralProblem(model);
  if (problem) throw new Error(`deferral model: ${problem}`);
  if (inputs.length !== model.exits.length) throw new Error(`deferral model: ${model.exits.length} exits but ${inputs.length} input names`);
  const g = new OnnxGraph();
  for (const { name } of inputs) g.reserve(name);
  g.reserve(DEFER_OUTPUT);
  const parts = model.exits.flatMap((x, i) => exitFeatures(g, inputs[i]!.name, x.k));
  const f = featureCount(model.exits.map((x) => x.k));
  const features = g.op("Concat", parts, { axis: 1 }, g.unique("features"));
  scoreLayers(g, model, features, f);
  const io = model.exits.map((x, i) => ({ name: inputs[i]!.name, exit: x.name, k: x.k }));
  return encodeModel({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: "", version: OPSET }],
    producerName: "meanet",
    producerVersion: info.producer,
    docString: info.docString ?? `meanet deferral model over ${model.exits.map((x) => x.name).join(", ")}`,
    graph: {
      name: "deferral",
      node: g.nodes,
      initializer: g.initializers,
      input: io.map((x) => valueInfo(x.name, DataType.FLOAT, ["N", x.k])),
      output: [valueInfo(DEFER_OUTPUT, DataType.FLOAT, ["N", 1])],
    },
    metadataProps: [
      ...(info.metadata ?? []),
      ["meanet.inputs", JSON.stringify(io)],
      ["meanet.hidden", String(model.hidden)],
      ["meanet.output", DEFER_OUTPUT],
    ].map(([key, value]) => ({ key, value })),
  });
}
