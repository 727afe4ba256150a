/**
 * The int8 edge files of the trained Fashion-MNIST model (test/helpers/trained.ts) on real test
 * images, in two runtimes: onnxruntime-node (native) and onnxruntime-web's wasm backend on one
 * thread, both in this Node process. Each runtime runs the edge chain as a device would: the
 * image through `edge/main.onnx`, then the image and that runtime's own `main.features` through
 * `edge/extension.onnx`. The int8 files must give the same top-1 class in both runtimes (the
 * 7-bit weights keep the integer sums exact whatever the kernels, see
 * src/codegen/onnx/quantize.ts); how often they agree with their float32 references is recorded.
 * Last, onnxruntime-node's optimized form of `edge/main.onnx` must run integer convolutions.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import * as ortNode from "onnxruntime-node";
import * as ortWeb from "onnxruntime-web";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeModel } from "../src/codegen/onnx/proto.js";
import { loadSplit, locateDataset } from "../src/runtime/train/data/locate.js";
import { copyTrainedBuild } from "./helpers/trained.js";

/** Test images run through every chain: all 10,000 of the test split (1,000 in the embedded subset). */
const IMAGES = 10_000;
const BATCH = 250;
/** Top-1 agreement of the int8 files between the two runtimes. */
const CROSS_RUNTIME_FLOOR = 0.999;
/**
 * A floor far below the measured int8-vs-float32 agreement (99.3 to 99.5%): not a target, only a
 * guard against a quantization that has broken down.
 */
const REFERENCE_FLOOR = 0.95;

// onnxruntime-web in Node: its wasm files from node_modules, one thread (no worker threads).
const WASM_DIR = dirname(createRequire(import.meta.url).resolve("onnxruntime-web/ort-wasm-simd-threaded.wasm"));
ortWeb.env.wasm.wasmPaths = pathToFileURL(WASM_DIR).href + "/";
ortWeb.env.wasm.numThreads = 1;
ortWeb.env.wasm.proxy = false;

const tmp = mkdtempSync(join(tmpdir(), "meanet-int8-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ["bin/meanet.js", ...args], { encoding: "utf8" });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

/** What the two runtimes share: onnxruntime-common's session and tensor. */
type Runtime = Pick<typeof ortNode, "InferenceSession" | "Tensor">;
type Session = Awaited<ReturnType<typeof ortNode.InferenceSession.create>>;

interface ChainOutputs {
  probsMain: Float32Array;
  probsExtension: Float32Array;
  features: Float32Array;
}

interface Partition {
  path: string;
  precision: string;
  reference: string | null;
  outputs: { name: string; shape: number[] }[];
}

/** The edge chain main → extension over `n` images, in batches, in one runtime. */
async function runChain(rt: Runtime, main: Session, extension: Session, images: Uint8Array, n: number, shape: number[]): Promise<ChainOutputs> {
  const size = shape.reduce((a, b) => a * b, 1);
  const parts: { main: Float32Array[]; extension: Float32Array[]; features: Float32Array[] } = { main: [], extension: [], features: [] };
  for (let start = 0; start < n; start += BATCH) {
    const b = Math.min(BATCH, n - start);
    // A fresh copy per batch and per runtime, as a request would bring it.
    const image = new rt.Tensor("uint8", images.slice(start * size, (start + b) * size), [b, ...shape]);
    const m = await main.run({ image });
    const features = m["main.features"]!;
    const e = await extension.run({ image, "main.features": new rt.Tensor("float32", (features.data as Float32Array).slice(), features.dims) });
    parts.main.push((m.probs_main!.data as Float32Array).slice());
    parts.features.push((features.data as Float32Array).slice());
    parts.extension.push((e.probs_extension!.data as Float32Array).slice());
  }
  return { probsMain: concat(parts.main), probsExtension: concat(parts.extension), features: concat(parts.features) };
}

function concat(xs: Float32Array[]): Float32Array {
  const out = new Float32Array(xs.reduce((s, x) => s + x.length, 0));
  let at = 0;
  for (const x of xs) {
    out.set(x, at);
    at += x.length;
  }
  return out;
}

function argmaxes(probs: Float32Array, classes: number): Int32Array {
  const n = probs.length / classes;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let k = 0;
    for (let c = 1; c < classes; c++) if (probs[i * classes + c]! > probs[i * classes + k]!) k = c;
    out[i] = k;
  }
  return out;
}

function agreement(a: Int32Array, b: Int32Array): number {
  expect(a.length).toBe(b.length);
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

describe("int8 edge files of the trained Fashion-MNIST model", () => {
  const out = join(tmp, "trained");
  let dir: string;
  let edge: { main: Partition; extension: Partition };
  let labels: Int32Array;
  /** The test labels' positions among the extension's hard classes, -1 for an easy class. */
  let hardIndex: number[];
  let n: number;
  const chains: { node: ChainOutputs; web: ChainOutputs; reference: ChainOutputs } = {} as never;

  beforeAll(async () => {
    dir = copyTrainedBuild(out);
    const e = cli("export", dir);
    expect(e.status, e.err).toBe(0);
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    const partitions: Partition[] = manifest.export.partitions;
    const byPath = (p: string) => partitions.find((x) => x.path === p)!;
    edge = { main: byPath("edge/main.onnx"), extension: byPath("edge/extension.onnx") };
    for (const p of Object.values(edge)) expect(p).toMatchObject({ precision: "int8", reference: p.path.replace("edge/", "edge/reference/") });
    hardIndex = manifest.labels.map((l: string) => manifest.export.hardClasses.indexOf(l));

    const test = loadSplit(locateDataset("fashion-mnist"), "test");
    n = Math.min(IMAGES, test.count);
    const shape = [test.height, test.width, test.channels];
    expect(shape).toEqual(manifest.export.partitions[0].inputs[0].shape);
    const size = shape.reduce((a, b) => a * b, 1);
    const images = test.images.subarray(0, n * size);
    labels = test.labels.subarray(0, n);
    // Real images, every class among them, none blank.
    expect(n).toBeGreaterThanOrEqual(1000);
    expect(new Set(labels).size).toBe(10);
    for (let i = 0; i < n; i++) expect(images.subarray(i * size, (i + 1) * size).some((v) => v !== 0)).toBe(true);

    const open = async (rt: Runtime, main: string, extension: string, options: object) => ({
      main: await rt.InferenceSession.create(readFileSync(join(dir, main)), options),
      extension: await rt.InferenceSession.create(readFileSync(join(dir, extension)), options),
    });
    const nodeOptions = { intraOpNumThreads: 1, interOpNumThreads: 1 };
    const webOptions = { executionProviders: ["wasm"] };
    const run = async (rt: Runtime, s: { main: Session; extension: Session }) => {
      try {
        return await runChain(rt, s.main, s.extension, images, n, shape);
      } finally {
        await s.main.release();
        await s.extension.release();
      }
    };
    chains.node = await run(ortNode, await open(ortNode, edge.main.path, edge.extension.path, nodeOptions));
    chains.web = await run(ortWeb, await open(ortWeb, edge.main.path, edge.extension.path, webOptions));
    chains.reference = await run(ortNode, await open(ortNode, edge.main.reference!, edge.extension.reference!, nodeOptions));
  }, 1_200_000);

  it("onnxruntime-web is onnxruntime-node's release, on one wasm thread; the extension read main's real features", () => {
    expect(ortWeb.env.wasm.numThreads).toBe(1);
    expect(ortWeb.env.versions.web).toBe(ortNode.env.versions.node);
    for (const c of Object.values(chains)) expect(c.features.some((v) => v !== 0)).toBe(true);
  });

  it(`the int8 files give the same top-1 class in onnxruntime-node and onnxruntime-web (≥ ${pct(CROSS_RUNTIME_FLOOR)})`, () => {
    const main = agreement(argmaxes(chains.node.probsMain, 10), argmaxes(chains.web.probsMain, 10));
    const ext = agreement(argmaxes(chains.node.probsExtension, 5), argmaxes(chains.web.probsExtension, 5));
    console.log(
      `int8 node vs web on ${n} test images: top-1 agreement main ${pct(main)}, extension (chained) ${pct(ext)}; ` +
        `max |Δ probs| main ${maxAbsDiff(chains.node.probsMain, chains.web.probsMain).toExponential(2)}, ` +
        `extension ${maxAbsDiff(chains.node.probsExtension, chains.web.probsExtension).toExponential(2)}, ` +
        `max |Δ main.features| ${maxAbsDiff(chains.node.features, chains.web.features).toExponential(2)}`,
    );
    expect(main).toBeGreaterThanOrEqual(CROSS_RUNTIME_FLOOR);
    expect(ext).toBeGreaterThanOrEqual(CROSS_RUNTIME_FLOOR);
  });

  it("records how often the int8 files agree with their float32 references (onnxruntime-node)", () => {
    const top = (c: ChainOutputs) => ({ main: argmaxes(c.probsMain, 10), extension: argmaxes(c.probsExtension, 5) });
    const [q, f] = [top(chains.node), top(chains.reference)];
    const main = agreement(q.main, f.main);
    const ext = agreement(q.extension, f.extension);
    const accuracy = (pred: Int32Array) => pred.reduce((s, p, i) => s + (p === labels[i] ? 1 : 0), 0) / n;
    const hard = [...labels.keys()].filter((i) => hardIndex[labels[i]!]! >= 0);
    const hardAccuracy = (pred: Int32Array) => hard.filter((i) => pred[i] === hardIndex[labels[i]!]).length / hard.length;
    console.log(
      `int8 vs float32 reference on ${n} test images: top-1 agreement main ${pct(main)}, extension (chained) ${pct(ext)}; ` +
        `accuracy main ${pct(accuracy(q.main))} int8 / ${pct(accuracy(f.main))} float32, ` +
        `extension on its ${hard.length} hard-class images ${pct(hardAccuracy(q.extension))} / ${pct(hardAccuracy(f.extension))}`,
    );
    expect(main).toBeGreaterThanOrEqual(REFERENCE_FLOOR);
    expect(ext).toBeGreaterThanOrEqual(REFERENCE_FLOOR);
  });

  it("onnxruntime-node's optimized edge/main.onnx runs integer convolutions and no float Conv", async () => {
    const optimized = join(tmp, "main.optimized.onnx");
    // Level "all" writes hardware-specific nodes and says so in a warning: errors only.
    const s = await ortNode.InferenceSession.create(join(dir, edge.main.path), { graphOptimizationLevel: "all", optimizedModelFilePath: optimized, intraOpNumThreads: 1, logSeverityLevel: 3 });
    await s.release();
    const ops = decodeModel(readFileSync(optimized)).graph!.node!.map((x) => `${x.domain || "ai.onnx"}:${x.opType}`);
    const integer = ops.filter((o) => /:(QLinearConv|ConvInteger)$/.test(o));
    const float = ops.filter((o) => /:(Conv|FusedConv)$/.test(o));
    expect(integer.length, ops.join(" ")).toBeGreaterThan(0);
    expect(float, ops.join(" ")).toEqual([]);
    // The float32 reference, optimized the same way, does run float Conv: the check can tell them apart.
    const refOptimized = join(tmp, "reference.optimized.onnx");
    const r = await ortNode.InferenceSession.create(join(dir, edge.main.reference!), { graphOptimizationLevel: "all", optimizedModelFilePath: refOptimized, intraOpNumThreads: 1, logSeverityLevel: 3 });
    await r.release();
    expect(decodeModel(readFileSync(refOptimized)).graph!.node!.some((x) => /^(Conv|FusedConv)$/.test(x.opType!))).toBe(true);
  });
});

/**
 * An edge tensor that both another int8 edge file and the cloud read crosses as uint8 to both;
 * the edge file that takes it dequantizes it with the parameters it came with and still runs
 * integer convolutions on it.
 */
describe("an int8 edge tensor read by another edge file and by the cloud", () => {
  const SHARED = `
model shared
input image: u8[16, 16, 3]
labels ["a", "b", "c", "d"]

complexity {
  hard: ["a", "b"]
}

block main on edge {
  f = relu(conv2d(image, 4, kernel: 3))
  exit main over all = dense(gap(f), num_classes)
}

block extension on edge {
  exit extension over all = dense(gap(relu(conv2d(main.f, 4, kernel: 3))), num_classes)
}

block cloud on cloud {
  exit cloud over all = dense(gap(relu(conv2d(main.f, 8, kernel: 3))), num_classes)
}

route {
  cloud when entropy(main) > 0.5
  extension when argmax(main) in hard
  main otherwise
}
`;

  it("exports, verifies, and the extension's optimized form runs QLinearConv on the uint8 tensor", async () => {
    const work = join(tmp, "shared");
    const spec = join(work, "shared.meanet");
    mkdirSync(work, { recursive: true });
    writeFileSync(spec, SHARED);
    expect(cli("compile", spec, "-o", work).status).toBe(0);
    const dir = join(work, "shared");
    const e = cli("export", dir, "--random-weights", "--seed", "3", "--calibration-images", "32");
    expect(e.status, e.err).toBe(0);
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    const extension = manifest.export.partitions.find((p: { path: string }) => p.path === "edge/extension.onnx");
    expect(extension.inputs.find((i: { name: string }) => i.name === "main.f")).toMatchObject({ dtype: "uint8", quant: { scale: expect.any(Number) } });
    const v = cli("verify", dir, "--samples", "64");
    expect(v.status, v.out + v.err).toBe(0);
    const optimized = join(work, "extension.optimized.onnx");
    const s = await ortNode.InferenceSession.create(join(dir, "edge/extension.onnx"), { graphOptimizationLevel: "all", optimizedModelFilePath: optimized, intraOpNumThreads: 1, logSeverityLevel: 3 });
    await s.release();
    const ops = decodeModel(readFileSync(optimized)).graph!.node!.map((x) => x.opType!);
    expect(ops, ops.join(" ")).toContain("QLinearConv");
    expect(ops.filter((o) => /^(Conv|FusedConv)$/.test(o)), ops.join(" ")).toEqual([]);
  }, 300_000);
});
