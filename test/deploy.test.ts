/**
 * The scale-out deployables: Triton's config.pbtxt and KServe's InferenceService written by
 * `meanet compile`, and the Triton model copy written by `meanet export`. The config is parsed back
 * and checked against the exported ONNX model itself, so a change to either side shows here.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { emitIrJson, type IrJson } from "../src/codegen/index.js";
import { emitKServeManifest, serviceName } from "../src/codegen/kserve.js";
import { decodeModel, planPartitions } from "../src/codegen/onnx/index.js";
import type { ValueInfoProto } from "../src/codegen/onnx/proto.js";
import { emitTritonConfig, TRITON_DEFAULTS } from "../src/codegen/triton.js";
import { compileText, errorCodes } from "./helpers/compile.js";

const tmp = mkdtempSync(join(tmpdir(), "meanet-deploy-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ["bin/meanet.js", ...args], { encoding: "utf8" });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

// ---------------------------------------------------------------------------------------------
// A parser for the subset of protobuf text format the Triton emitter writes: `# comments`,
// `key: scalar`, `key: [ scalars ]`, `key { message }` and `key [ { message }, … ]`.

type PbValue = string | number | PbMessage | PbValue[];
interface PbMessage {
  [key: string]: PbValue;
}

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  const re = /\s+|#[^\n]*|("(?:[^"\\]|\\.)*")|(-?\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|([{}[\]:,])|(.)/gy;
  for (const m of text.matchAll(re)) {
    if (m[6] !== undefined) throw new Error(`unexpected character ${JSON.stringify(m[6])} at ${m.index}`);
    const t = m[1] ?? m[2] ?? m[3] ?? m[4];
    if (t !== undefined) tokens.push(t);
  }
  return tokens;
}

function parsePbtxt(text: string): PbMessage {
  const tokens = tokenize(text);
  let i = 0;
  const peek = () => tokens[i];
  const take = (expected?: string) => {
    const t = tokens[i++];
    if (t === undefined || (expected !== undefined && t !== expected)) throw new Error(`expected ${expected ?? "a token"}, got ${t} at token ${i - 1}`);
    return t;
  };
  const value = (): PbValue => {
    const t = take();
    if (t === "{") return message("}");
    if (t === "[") {
      const list: PbValue[] = [];
      while (peek() !== "]") {
        list.push(value());
        if (peek() === ",") take(",");
      }
      take("]");
      return list;
    }
    if (t.startsWith('"')) return JSON.parse(t) as string;
    if (/^-?\d/.test(t)) return Number(t);
    if (/^[A-Za-z_]/.test(t)) return t;
    throw new Error(`unexpected ${t}`);
  };
  const message = (end: string | undefined): PbMessage => {
    const m: PbMessage = {};
    while (peek() !== end) {
      const key = take();
      if (!/^[A-Za-z_]/.test(key)) throw new Error(`expected a field name, got ${key}`);
      if (peek() === ":") take(":");
      else if (peek() !== "{" && peek() !== "[") throw new Error(`field ${key} has no value`);
      if (key in m) throw new Error(`field ${key} given twice`);
      m[key] = value();
    }
    if (end !== undefined) take(end);
    return m;
  };
  return message(undefined);
}

// ---------------------------------------------------------------------------------------------

/** What Triton would make of one tensor, and what the ONNX model declares for it. */
interface TensorSig {
  name: string;
  type: string;
  dims: number[];
}

function configTensors(list: PbValue): TensorSig[] {
  return (list as PbMessage[]).map((t) => ({ name: t.name as string, type: t.data_type as string, dims: t.dims as number[] }));
}

/** ONNX TensorProto.DataType codes to Triton model-config types (Triton's datatype table). */
const ONNX_TO_TRITON: Record<number, string> = { 1: "TYPE_FP32", 2: "TYPE_UINT8", 3: "TYPE_INT8", 10: "TYPE_FP16" };

function onnxTensors(bytes: Uint8Array): { inputs: TensorSig[]; outputs: TensorSig[] } {
  const graph = decodeModel(bytes).graph!;
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  const sig = (v: ValueInfoProto): TensorSig => {
    const t = v.type!.tensorType!;
    const [batch, ...rest] = t.shape!.dim!;
    // Triton batches along a first dimension the config leaves out: it must be the dynamic one.
    expect(batch!.dimParam, `${v.name}: first dimension`).toBe("N");
    return { name: v.name!, type: ONNX_TO_TRITON[t.elemType!] ?? `onnx type ${t.elemType}`, dims: rest.map((d) => Number(d.dimValue)) };
  };
  return { inputs: (graph.input ?? []).filter((v) => !initializers.has(v.name!)).map(sig), outputs: (graph.output ?? []).map(sig) };
}

/** An `auto` block cut in two (as in test/onnx.test.ts): the cloud model reads the float32 cut tensor `far.c`. */
const AUTO = `
model cut
input image: u8[16, 16, 3]
labels 4
device edge: edge_int8_45nm { link: lte
  macs: 100 K }

block main on edge {
  exit main over all = dense(gap(relu(conv2d(image, 4))), num_classes)
}

block far on auto {
  a = conv2d(image, 4, kernel: 3, bias: false)
  b = relu(batchnorm(a, epsilon: 0.2))
  c = conv2d(b, 2, kernel: 3, stride: 2, bias: false)
  d = relu(batchnorm(c, epsilon: 0.2))
  e = conv2d(d, 64, kernel: 3)
  f = max_pool(e, kernel: 2)
  g = conv2d(f, 32, kernel: 3)
  exit far over all = dense(global_avg_pool(g), num_classes)
}

route {
  far when entropy(main) > 0.5
  main otherwise
}
`;

const EDGE_ONLY = `model edgeonly
input image: f32[8, 8, 3]
labels 3
block main on edge {
  exit main over all = dense(gap(conv2d(image, 4)), num_classes)
}
`;

function irOf(text: string, name = "spec.meanet"): IrJson {
  const r = compileText(text, name);
  expect(errorCodes(r), r.diagnostics.map((d) => d.message).join("\n")).toEqual([]);
  return emitIrJson(r.ir!, r.shapes, r.results);
}

function specFile(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

/** Compiles and exports (random weights) into its own directory; returns the model's build directory. */
function compileAndExport(spec: string, out: string, model: string): string {
  const c = cli("compile", spec, "-o", out);
  expect(c.status, c.err).toBe(0);
  const e = cli("export", join(out, model), "--random-weights");
  expect(e.status, e.err).toBe(0);
  return join(out, model);
}

const CASES = [
  { label: "Fashion-MNIST", spec: () => "examples/fashion-mnist.meanet", model: "fashion_mnist" },
  { label: "an `on auto` block cut in two", spec: () => specFile("cut.meanet", AUTO), model: "cut" },
];

describe.each(CASES)("Triton and KServe files of $label", ({ spec, model }) => {
  let dir: string;
  let again: string;
  beforeAll(() => {
    const file = spec();
    dir = compileAndExport(file, join(tmp, `${model}-a`), model);
    again = compileAndExport(file, join(tmp, `${model}-b`), model);
  });

  it("config.pbtxt names exactly the inputs, outputs, data types and dims of the exported cloud model", () => {
    const config = parsePbtxt(readFileSync(join(dir, `cloud/triton/${model}/config.pbtxt`), "utf8"));
    expect(config).toMatchObject({ name: model, platform: "onnxruntime_onnx", max_batch_size: 64 });
    const onnx = onnxTensors(readFileSync(join(dir, "cloud/model.onnx")));
    expect(onnx.inputs.length).toBeGreaterThan(0);
    expect(configTensors(config.input!)).toEqual(onnx.inputs);
    expect(configTensors(config.output!)).toEqual(onnx.outputs);
    expect(config.dynamic_batching).toEqual({ max_queue_delay_microseconds: 2000 });
    expect(config.instance_group).toEqual([{ count: 1, kind: "KIND_CPU" }]);
    if (model === "cut") {
      // The cloud half of the cut block takes the edge half's float32 feature map, not the uint8 image.
      expect(configTensors(config.input!)).toEqual([{ name: "far.c", type: "TYPE_FP32", dims: [8, 8, 2] }]);
      expect(configTensors(config.output!)).toEqual([{ name: "probs_far", type: "TYPE_FP32", dims: [4] }]);
    }
  });

  it("the Triton model is cloud/model.onnx byte for byte, and the manifest lists both with their sha256", () => {
    const copy = join(dir, `cloud/triton/${model}/1/model.onnx`);
    expect(readFileSync(copy)).toEqual(readFileSync(join(dir, "cloud/model.onnx")));
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { artifacts: { path: string; sha256: string; bytes: number }[] };
    for (const p of ["cloud/model.onnx", `cloud/triton/${model}/1/model.onnx`, `cloud/triton/${model}/config.pbtxt`, "cloud/kserve.yaml"]) {
      const listed = manifest.artifacts.find((a) => a.path === p);
      expect(listed, p).toBeDefined();
      expect(listed!.sha256, p).toBe(sha(join(dir, p)));
      expect(listed!.bytes, p).toBe(readFileSync(join(dir, p)).byteLength);
    }
    // The copy is an export file, listed once.
    expect(manifest.artifacts.filter((a) => a.path.endsWith("/1/model.onnx"))).toHaveLength(1);
  });

  it("kserve.yaml is an InferenceService for Triton whose storageUri ends with the repository path", () => {
    const text = readFileSync(join(dir, "cloud/kserve.yaml"), "utf8");
    // No YAML parser is installed in node_modules: check the structure line by line.
    const lines = text.split("\n").filter((l) => l.trim() !== "" && !l.trimStart().startsWith("#"));
    for (const l of lines) expect(l, "two-space indentation, key: value").toMatch(/^( {2})*[A-Za-z]+:( .+)?$/);
    expect(lines.slice(0, 4)).toEqual(["apiVersion: serving.kserve.io/v1beta1", "kind: InferenceService", "metadata:", `  name: ${model.replace(/_/g, "-")}`]);
    expect(lines).toEqual(expect.arrayContaining(["spec:", "  predictor:", "    model:", "      modelFormat:", "        name: triton", "      protocolVersion: v2"]));
    const uri = lines.find((l) => l.startsWith("      storageUri: "))!;
    expect(JSON.parse(uri.slice("      storageUri: ".length))).toBe(`pvc://meanet-models/${model}/cloud/triton`);
    expect(text).toMatch(/placeholder/i);
  });

  it("rebuilding gives byte-identical deploy files", () => {
    for (const p of [`cloud/triton/${model}/config.pbtxt`, "cloud/kserve.yaml", `cloud/triton/${model}/1/model.onnx`, "manifest.json"]) {
      expect(readFileSync(join(again, p)), p).toEqual(readFileSync(join(dir, p)));
    }
    // Exporting again into the same directory changes nothing either.
    const before = readFileSync(join(dir, "manifest.json"), "utf8");
    expect(cli("export", dir, "--random-weights").status).toBe(0);
    expect(readFileSync(join(dir, "manifest.json"), "utf8")).toBe(before);
  });
});

const HAS_PYYAML = spawnSync("/usr/bin/python3", ["-c", "import yaml"]).status === 0;

describe("kserve.yaml through a real YAML parser", () => {
  it.skipIf(!HAS_PYYAML)("PyYAML reads the documented structure", () => {
    const yaml = emitKServeManifest(irOf(readFileSync("examples/fashion-mnist.meanet", "utf8")), { storageUri: 's3://bucket/with "quotes"/cloud/triton' });
    const r = spawnSync("/usr/bin/python3", ["-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))"], { input: yaml, encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      apiVersion: "serving.kserve.io/v1beta1",
      kind: "InferenceService",
      metadata: { name: "fashion-mnist" },
      spec: {
        predictor: {
          minReplicas: 1,
          maxReplicas: 4,
          model: {
            modelFormat: { name: "triton" },
            protocolVersion: "v2",
            storageUri: 's3://bucket/with "quotes"/cloud/triton',
            resources: { requests: { cpu: "1", memory: "2Gi" }, limits: { cpu: "1", memory: "2Gi" } },
          },
        },
      },
    });
  });
});

describe("emitTritonConfig and emitKServeManifest (pure)", () => {
  const fashion = () => irOf(readFileSync("examples/fashion-mnist.meanet", "utf8"), "examples/fashion-mnist.meanet");
  const cloudOf = (ir: IrJson) => planPartitions(ir).find((p) => p.device === "cloud")!;

  it("the Fashion-MNIST config, exactly", () => {
    const ir = fashion();
    expect(emitTritonConfig(ir, cloudOf(ir), TRITON_DEFAULTS)).toBe(`# Generated by meanet for model fashion_mnist: do not edit; \`meanet compile FILE -o DIR\` rewrites it.
# Triton model configuration of the cloud partition (cloud/model.onnx). \`meanet export DIR/fashion_mnist\`
# copies that file to fashion_mnist/1/model.onnx next to this one; serve the folder cloud/triton with
# \`tritonserver --model-repository=.../cloud/triton\`. dims leave out the batch dimension.
name: "fashion_mnist"
platform: "onnxruntime_onnx"
max_batch_size: 64
input [
  {
    name: "image"
    data_type: TYPE_UINT8
    dims: [ 28, 28, 1 ]
  }
]
output [
  {
    name: "probs_cloud"
    data_type: TYPE_FP32
    dims: [ 10 ]
  }
]
dynamic_batching {
  max_queue_delay_microseconds: 2000
}
instance_group [
  {
    count: 1
    kind: KIND_CPU
  }
]
`);
  });

  it("options: batch size, queue delay, instances and preferred batch sizes", () => {
    const ir = fashion();
    const config = parsePbtxt(emitTritonConfig(ir, cloudOf(ir), { maxBatchSize: 32, maxQueueDelayMicroseconds: 500, instances: 3, preferredBatchSizes: [8, 16] }));
    expect(config).toMatchObject({
      max_batch_size: 32,
      dynamic_batching: { preferred_batch_size: [8, 16], max_queue_delay_microseconds: 500 },
      instance_group: [{ count: 3, kind: "KIND_CPU" }],
    });
    expect(() => emitTritonConfig(ir, cloudOf(ir), { ...TRITON_DEFAULTS, maxBatchSize: 0 })).toThrow(/max_batch_size/);
    expect(() => emitTritonConfig(ir, cloudOf(ir), { ...TRITON_DEFAULTS, preferredBatchSizes: [128] })).toThrow(/exceeds/);
    expect(() => emitTritonConfig(ir, planPartitions(ir)[0]!, TRITON_DEFAULTS)).toThrow(/edge partition/);
  });

  it("service names are DNS-safe", () => {
    expect(serviceName("fashion_mnist")).toBe("fashion-mnist");
    expect(serviceName("ResNet__32_")).toBe("resnet-32");
    expect(serviceName("9lives")).toBe("m-9lives");
    expect(serviceName("a".repeat(80))).toHaveLength(63);
    for (const n of ["fashion_mnist", "ResNet__32_", "9lives", `x${"_".repeat(61)}y`]) expect(serviceName(n)).toMatch(/^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/);
  });

  it("a spec without a cloud partition gets neither file, and its export no Triton model", () => {
    const out = join(tmp, "edge-only");
    const dir = compileAndExport(specFile("edgeonly.meanet", EDGE_ONLY), out, "edgeonly");
    expect(existsSync(join(dir, "cloud"))).toBe(false);
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { artifacts: { path: string }[] };
    expect(manifest.artifacts.map((a) => a.path).filter((p) => p.startsWith("cloud/"))).toEqual([]);
  });
});
