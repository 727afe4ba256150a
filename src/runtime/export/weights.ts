/**
 * Weights for export, read straight from the tfjs layers files (model.json + weights.bin) without
 * loading tfjs, and checked against what the build's IR asks of every node: names, shapes, dtype,
 * finite values. Every problem names the block, the node and the file.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { IrJson, IrJsonNode } from "../../format/ir.js";
import { Codes, MeanetError } from "../../diagnostics/index.js";
import { jsonProblem } from "../../format/build.js";
import { layerName } from "../train/names.js";

/** One weight as the ONNX emitter takes it: a shape and float32 values. */
export interface WeightTensor {
  shape: number[];
  data: Float32Array;
}

/** Weights of every node, by tfjs weight name (`main/conv2d_1/kernel`). */
export type WeightStore = Map<string, WeightTensor>;

/** The weights a node's tfjs layer holds, with their shapes, derived from the IR. */
export function expectedWeights(ir: IrJson, node: IrJsonNode): [string, number[]][] {
  const a = node.attrs;
  const inShape = ir.tensors[node.inputs[0]!]!.shape;
  const cin = inShape[inShape.length - 1]!;
  const k = a.kernel as number;
  switch (node.op) {
    case "conv2d": {
      const f = a.filters as number;
      return [["kernel", [k, k, cin / ((a.groups as number | undefined) ?? 1), f]], ...(a.bias ? [["bias", [f]] as [string, number[]]] : [])];
    }
    case "depthwise_conv2d": {
      const m = (a.multiplier as number | undefined) ?? 1;
      return [["depthwise_kernel", [k, k, cin, m]], ...(a.bias ? [["bias", [cin * m]] as [string, number[]]] : [])];
    }
    case "batchnorm":
      return ["gamma", "beta", "moving_mean", "moving_variance"].map((w) => [w, [cin]]);
    case "dense": {
      const u = a.units as number;
      return [["kernel", [cin, u]], ...(a.bias ? [["bias", [u]] as [string, number[]]] : [])];
    }
    default:
      return [];
  }
}

export function weightName(node: IrJsonNode, kind: string): string {
  return `${layerName(node.name)}/${kind}`;
}

/** A node's weight of one kind (`kernel`, `bias`, `gamma`, …), as the ONNX emitter looks it up. */
export function lookupIn(store: WeightStore): (node: IrJsonNode, kind: string) => WeightTensor | undefined {
  return (node, kind) => store.get(weightName(node, kind));
}

const dims = (s: number[]) => (s.length ? s.join("×") : "a scalar");

interface ManifestEntry {
  name: string;
  shape: number[];
  dtype: string;
}

/** Reads weights/<block>/ of a build and checks it against the IR's nodes of that block. */
export function readBlockWeights(buildDir: string, ir: IrJson, block: string, store: WeightStore): void {
  const dir = join("weights", block);
  const where = (f: string) => join(buildDir, dir, f);
  const nodes = ir.blocks.find((b) => b.name === block)!.nodes.map((n) => ir.nodes[n]!);
  const expected = nodes.flatMap((n) => expectedWeights(ir, n).map(([kind, shape]) => ({ node: n, name: weightName(n, kind), shape })));
  if (!expected.length) return;
  if (!existsSync(where("model.json"))) {
    throw new MeanetError(Codes.WeightsMissing, `block \`${block}\`: ${where("model.json")} is missing; train the model first (meanet train), or export with --random-weights`);
  }
  let entries: ManifestEntry[];
  try {
    let json: { weightsManifest?: { weights?: ManifestEntry[] }[] };
    try {
      json = JSON.parse(readFileSync(where("model.json"), "utf8")) as typeof json;
    } catch (e) {
      throw new Error(e instanceof SyntaxError ? `it is not valid JSON (${jsonProblem(e)})` : (e as Error).message);
    }
    // Without the list, weights.bin cannot be read: say so rather than report a size mismatch.
    if (!Array.isArray(json?.weightsManifest) || !Array.isArray(json.weightsManifest[0]?.weights)) {
      throw new Error("it has no weightsManifest (the list of the weights in weights.bin); it is not a model.json written by meanet train");
    }
    entries = json.weightsManifest[0].weights;
    if (entries.some((e) => typeof e?.name !== "string" || !Array.isArray(e.shape))) throw new Error("its weightsManifest is not a list of {name, shape, dtype}");
  } catch (e) {
    throw new MeanetError(Codes.WeightsMissing, `block \`${block}\`: cannot read ${where("model.json")}: ${(e as Error).message}`);
  }
  let bin: Buffer;
  try {
    bin = readFileSync(where("weights.bin"));
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === "ENOENT" ? "the file is missing" : (e as Error).message;
    throw new MeanetError(Codes.WeightsMissing, `block \`${block}\`: cannot read ${where("weights.bin")}: ${why}`);
  }
  const described = entries.reduce((s, e) => s + e.shape.reduce((a, b) => a * b, 1) * 4, 0);
  if (bin.byteLength !== described) {
    throw new MeanetError(Codes.WeightsMismatch, `block \`${block}\`: ${where("weights.bin")} has ${bin.byteLength} bytes but model.json describes ${described}; the file is truncated or from another training run`);
  }
  const stale = "the spec changed since training; run meanet train again";
  const found = new Map<string, WeightTensor>();
  let offset = 0;
  for (const e of entries) {
    const count = e.shape.reduce((a, b) => a * b, 1);
    if (e.dtype !== "float32") throw new MeanetError(Codes.WeightsMismatch, `block \`${block}\`: weight ${e.name} in ${where("model.json")} is ${e.dtype}; only float32 weights are supported`);
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = bin.readFloatLE(offset + i * 4);
    offset += count * 4;
    found.set(e.name, { shape: e.shape, data });
  }
  for (const x of expected) {
    const w = found.get(x.name);
    const at = x.node.loc ? ` (${x.node.loc})` : "";
    if (!w) throw new MeanetError(Codes.WeightsMismatch, `block \`${block}\`: ${where("model.json")} has no weight ${x.name} for ${x.node.op} \`${x.node.name}\`${at}; ${stale}`);
    if (w.shape.join() !== x.shape.join()) {
      throw new MeanetError(Codes.WeightsMismatch, `block \`${block}\`: weight ${x.name} is ${dims(w.shape)} in ${dir} but ${x.node.op} \`${x.node.name}\`${at} needs ${dims(x.shape)}; ${stale}`);
    }
    const bad = w.data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new MeanetError(Codes.WeightsMismatch, `block \`${block}\`: weight ${x.name} in ${dir} holds ${w.data[bad]} at index ${bad}; training diverged, so these weights cannot be exported`);
    store.set(x.name, w);
  }
  const extra = [...found.keys()].filter((n) => !expected.some((x) => x.name === n));
  if (extra.length) throw new MeanetError(Codes.WeightsMismatch, `block \`${block}\`: ${dir} holds weights the spec has no layer for (${extra.slice(0, 3).join(", ")}${extra.length > 3 ? ", …" : ""}); ${stale}`);
}
