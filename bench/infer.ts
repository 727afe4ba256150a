/**
 * Inference speed of the Fashion-MNIST example's edge files, in one run:
 *
 * - engines: the main block in onnxruntime-node (the float32 file, `edge/reference/main.onnx`)
 *   against tfjs on the wasm and cpu backends;
 * - precision: the int8 files `edge/main.onnx` and `edge/extension.onnx` against their float32
 *   references, all four in onnxruntime-node on one thread.
 *
 *   node --import tsx bench/infer.ts [--json] [--rounds R] [--runs N] [--cpu-runs N]
 *                                    [--batches N] [--cpu-batches N] [--batch B] [--seed S] [--ort-threads T]
 *
 * The spec is compiled into a temporary directory and exported with seeded random weights
 * (`meanet export --random-weights --seed 1`, which calibrates the int8 files on seeded training
 * images); tfjs builds the same block with the same seed. Each contestant (engine or file) does
 * an untimed warm-up, then they take turns, round after round (the order rotates each round), so
 * that load changes on a shared machine hit all of them alike. A round is N single-sample runs
 * (latency) and N batches of B samples (throughput) per contestant; cpu gets fewer of both. Every
 * timed call is end to end: from the uint8 pixels to the probabilities read back into JS (ORT: new
 * Tensor + run, fetching the probabilities only; tfjs: the float input tensor, predict, softmax,
 * dataSync). The extension files also take `main.features`, computed before timing by the main
 * file of the same precision; their timed call includes making its tensor. Latency is the median
 * and p90 of all single-sample runs; throughput is B / the median batch time. Inputs are seeded
 * random pixels. The last line with --json is one JSON object.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as ort from "onnxruntime-node";
import { compile } from "../src/cli/compile.js";
import { exportCommand } from "../src/cli/export.js";
import type { IrJson } from "../src/format/ir.js";
import { selectBackend } from "../src/runtime/train/backend.js";
import { buildBlockModel } from "../src/runtime/train/builder.js";
import { inputTensor } from "../src/runtime/train/forward.js";
import { tf } from "../src/runtime/train/tf.js";
import { meanet } from "./common.js";

const { values } = parseArgs({
  options: {
    json: { type: "boolean" },
    rounds: { type: "string" },
    runs: { type: "string" },
    "cpu-runs": { type: "string" },
    batches: { type: "string" },
    "cpu-batches": { type: "string" },
    batch: { type: "string" },
    seed: { type: "string" },
    "ort-threads": { type: "string" },
  },
});

function count(name: keyof typeof values, fallback: number, min = 1): number {
  const text = values[name];
  const value = text === undefined ? fallback : Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} takes an integer ≥ ${min}`);
  return value;
}

const rounds = count("rounds", 20);
const runs = count("runs", 200);
const cpuRuns = count("cpu-runs", 20);
const batches = count("batches", 20);
const cpuBatches = count("cpu-batches", 3);
const batch = count("batch", 64);
const inputSeed = count("seed", 7, 0);
/** 0 leaves the choice to onnxruntime (one thread per physical core). */
const ortThreads = count("ort-threads", 0, 0);
const WEIGHT_SEED = 1;

type Engine = "onnxruntime" | "wasm" | "cpu";
const ENGINES: Engine[] = ["onnxruntime", "wasm", "cpu"];
/** The edge files timed int8 against float32. */
const EDGE_FILES = ["main", "extension"] as const;
type EdgeFile = (typeof EDGE_FILES)[number];
type FilePrecision = "int8" | "fp32";
type Contestant = Engine | `${EdgeFile}:${FilePrecision}`;
const PRECISION_CONTESTANTS = EDGE_FILES.flatMap((f) => (["int8", "fp32"] as const).map((p) => `${f}:${p}` as const));
const CONTESTANTS: Contestant[] = [...ENGINES, ...PRECISION_CONTESTANTS];

/** Runs one batch end to end and returns the probabilities of the file's exit. */
type Infer = (images: Uint8Array, n: number) => Float32Array | Promise<Float32Array>;

interface Partition {
  name: string;
  path: string;
  precision: string;
  reference: string | null;
  inputs: { name: string; shape: number[] }[];
  outputs: { name: string; shape: number[]; exit: string | null }[];
}

function seededPixels(seed: number, size: number): Uint8Array {
  let a = seed >>> 0;
  const v = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    v[i] = a >>> 24;
  }
  return v;
}

/** Nearest-rank percentile. */
function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`outputs differ in size: ${a.length} vs ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}


/** ORT sessions of one edge file and its float32 reference, one thread each, and their timed calls. */
async function precisionFile(
  buildDir: string,
  partition: Partition,
  inputShape: number[],
  featuresOf: (p: FilePrecision) => ((images: Uint8Array) => Float32Array) | null,
): Promise<{ infer: Record<FilePrecision, Infer>; sessions: ort.InferenceSession[] }> {
  if (partition.precision !== "int8" || !partition.reference) throw new Error(`${partition.path} is ${partition.precision}, with reference ${partition.reference}: the bench wants an int8 file and its float32 reference`);
  const probs = partition.outputs.find((o) => o.exit)!.name;
  const features = partition.inputs.find((i) => i.name !== "image");
  const infer = {} as Record<FilePrecision, Infer>;
  const sessions: ort.InferenceSession[] = [];
  for (const [p, path] of [["int8", partition.path], ["fp32", partition.reference]] as const) {
    const session = await ort.InferenceSession.create(join(buildDir, path), { intraOpNumThreads: 1, interOpNumThreads: 1 });
    sessions.push(session);
    const extra = features ? featuresOf(p) : null;
    if (features && !extra) throw new Error(`${partition.path} reads ${features.name}, which no file before it gives`);
    infer[p] = async (images, n) => {
      const feeds: Record<string, ort.Tensor> = { image: new ort.Tensor("uint8", images, [n, ...inputShape]) };
      if (features) feeds[features.name] = new ort.Tensor("float32", extra!(images), [n, ...features.shape]);
      const out = await session.run(feeds, [probs]);
      return out[probs]!.data as Float32Array;
    };
  }
  return { infer, sessions };
}

/** The features a main file gives for each of the inputs, computed once, looked up by the input's buffer. */
async function precomputeFeatures(buildDir: string, path: string, inputShape: number[], inputs: Uint8Array[], sampleSize: number) {
  const session = await ort.InferenceSession.create(join(buildDir, path), { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const byInput = new Map<Uint8Array, Float32Array>();
  for (const x of inputs) {
    const out = await session.run({ image: new ort.Tensor("uint8", x, [x.length / sampleSize, ...inputShape]) }, ["main.features"]);
    byInput.set(x, (out["main.features"]!.data as Float32Array).slice());
  }
  await session.release();
  return (images: Uint8Array) => {
    const f = byInput.get(images);
    if (!f) throw new Error("no precomputed main.features for this input");
    return f;
  };
}

const tmp = mkdtempSync(join(tmpdir(), "meanet-bench-infer-"));
try {
  await meanet(compile, ["examples/fashion-mnist.meanet", "-o", tmp]);
  const buildDir = join(tmp, "fashion_mnist");
  await meanet(exportCommand, [buildDir, "--random-weights", "--seed", String(WEIGHT_SEED)]);
  const ir = JSON.parse(readFileSync(join(buildDir, "ir.json"), "utf8")) as IrJson;
  const block = ir.blocks.find((b) => b.name === "main")!;
  const exitTensor = ir.exits.find((x) => x.name === "main")!.tensor;
  const macs = block.nodes.reduce((s, n) => s + ir.nodes[n]!.macs, 0);
  const sampleSize = ir.input.shape.reduce((a, b) => a * b, 1);
  const classes = ir.tensors[exitTensor]!.shape.reduce((a, b) => a * b, 1);

  // A pool of distinct seeded batches; run i of every engine reads the same samples.
  const POOL = 8;
  const pool = Array.from({ length: POOL }, (_, i) => seededPixels(inputSeed * 1000 + i + 1, batch * sampleSize));
  // Single samples are copies (not views) of the pool's samples, one buffer each, like a fresh request.
  const singles = Array.from({ length: POOL * batch }, (_, i) => pool[Math.floor(i / batch)]!.slice((i % batch) * sampleSize, (i % batch + 1) * sampleSize));
  const single = (i: number) => singles[i % singles.length]!;

  // onnxruntime against tfjs: the float32 file, the same arithmetic as tfjs (edge/main.onnx is int8).
  const partitions = JSON.parse(readFileSync(join(buildDir, "manifest.json"), "utf8")).export.partitions as Partition[];
  const partitionOf = (name: EdgeFile) => partitions.find((p) => p.name === name && p.path.startsWith("edge/"))!;
  const floatMain = partitionOf("main").reference ?? partitionOf("main").path;
  const session = await ort.InferenceSession.create(join(buildDir, floatMain), {
    ...(ortThreads > 0 ? { intraOpNumThreads: ortThreads, interOpNumThreads: 1 } : {}),
  });
  const inputName = session.inputNames[0]!;
  if (!session.outputNames.includes("probs_main")) throw new Error(`${floatMain} has no probs_main output (${session.outputNames.join(", ")})`);
  const ortInfer: Infer = async (images, n) => {
    const out = await session.run({ [inputName]: new ort.Tensor("uint8", images, [n, ...ir.input.shape]) }, ["probs_main"]);
    return out.probs_main!.data as Float32Array;
  };

  // tfjs: one model per backend, built while that backend is current so its weights live there.
  const models = new Map<"wasm" | "cpu", ReturnType<typeof buildBlockModel>>();
  for (const backend of ["wasm", "cpu"] as const) {
    await selectBackend(backend);
    models.set(backend, buildBlockModel(ir, block, WEIGHT_SEED));
  }
  const tfInfer = (backend: "wasm" | "cpu"): Infer => {
    const m = models.get(backend)!;
    const out = m.outputs.indexOf(exitTensor);
    return (images, n) => {
      const probs = tf.tidy(() => {
        const y = m.model.predict(inputTensor(images, n, ir.input.shape)) as tf.Tensor | tf.Tensor[];
        return tf.softmax((Array.isArray(y) ? y : [y])[out]!);
      });
      const data = probs.dataSync() as Float32Array;
      probs.dispose();
      return data;
    };
  };
  // int8 against float32: each edge file and its reference, one ORT thread each.
  const inputs = [...pool, ...singles];
  const features = {
    int8: await precomputeFeatures(buildDir, partitionOf("main").path, ir.input.shape, inputs, sampleSize),
    fp32: await precomputeFeatures(buildDir, partitionOf("main").reference!, ir.input.shape, inputs, sampleSize),
  };
  const precisionSessions: ort.InferenceSession[] = [];
  const precisionInfer = {} as Record<(typeof PRECISION_CONTESTANTS)[number], Infer>;
  for (const f of EDGE_FILES) {
    const files = await precisionFile(buildDir, partitionOf(f), ir.input.shape, (p) => (f === "main" ? null : features[p]));
    precisionSessions.push(...files.sessions);
    precisionInfer[`${f}:int8`] = files.infer.int8;
    precisionInfer[`${f}:fp32`] = files.infer.fp32;
  }

  const infer: Record<Contestant, Infer> = { onnxruntime: ortInfer, wasm: tfInfer("wasm"), cpu: tfInfer("cpu"), ...precisionInfer };
  const use = async (c: Contestant) => {
    if ((c === "wasm" || c === "cpu") && tf.getBackend() !== c) await selectBackend(c);
  };

  // Same batch through every engine: do they agree?
  const reference = await ortInfer(pool[0]!, batch);
  if (reference.length !== batch * classes) throw new Error(`probs_main has ${reference.length} values, expected ${batch * classes}`);
  const agree: Record<"wasm" | "cpu", number> = { wasm: 0, cpu: 0 };
  for (const backend of ["wasm", "cpu"] as const) {
    await use(backend);
    agree[backend] = maxAbsDiff(await infer[backend](pool[0]!, batch), reference);
  }

  // Warm-up, then interleaved rounds.
  const latency = Object.fromEntries(CONTESTANTS.map((c) => [c, [] as number[]])) as Record<Contestant, number[]>;
  const batchMs = Object.fromEntries(CONTESTANTS.map((c) => [c, [] as number[]])) as Record<Contestant, number[]>;
  const perRound = (e: Contestant) => (e === "cpu" ? { runs: cpuRuns, batches: cpuBatches } : { runs, batches });
  for (const e of CONTESTANTS) {
    await use(e);
    const [ones, full] = e === "cpu" ? [5, 1] : [50, 3];
    for (let i = 0; i < ones; i++) await infer[e](single(i), 1);
    for (let i = 0; i < full; i++) await infer[e](pool[i + 1]!, batch);
  }
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < CONTESTANTS.length; k++) {
      const e = CONTESTANTS[(r + k) % CONTESTANTS.length]!;
      await use(e);
      const { runs: n, batches: b } = perRound(e);
      for (let i = 0; i < n; i++) {
        const x = single(r * n + i);
        const s = performance.now();
        await infer[e](x, 1);
        latency[e].push(performance.now() - s);
      }
      for (let i = 0; i < b; i++) {
        const x = pool[(r * b + i) % POOL]!;
        const s = performance.now();
        await infer[e](x, batch);
        batchMs[e].push(performance.now() - s);
      }
    }
  }
  const seconds = (performance.now() - t0) / 1000;

  const round = (x: number, digits: number) => Number(x.toFixed(digits));
  const figuresOf = Object.fromEntries(
    CONTESTANTS.map((e) => {
      const p50 = percentile(latency[e], 50);
      const batchP50 = percentile(batchMs[e], 50);
      return [
        e,
        {
          latencyMsP50: round(p50, 3),
          latencyMsP90: round(percentile(latency[e], 90), 3),
          throughput: round((batch * 1000) / batchP50, 1),
          batchMsP50: round(batchP50, 2),
          latencyRuns: latency[e].length,
          batches: batchMs[e].length,
        },
      ];
    }),
  ) as Record<Contestant, { latencyMsP50: number; latencyMsP90: number; throughput: number; batchMsP50: number; latencyRuns: number; batches: number }>;
  const figures = Object.fromEntries(ENGINES.map((e) => [e, figuresOf[e]])) as Record<Engine, (typeof figuresOf)[Engine]>;
  const ratio = (a: number, b: number) => round(a / b, 2);
  const precision = Object.fromEntries(
    EDGE_FILES.map((f) => {
      const [q, fp] = [figuresOf[`${f}:int8`], figuresOf[`${f}:fp32`]];
      const p = partitionOf(f);
      return [f, { files: { int8: p.path, fp32: p.reference }, int8: q, fp32: fp, latencyInt8OverFp32: ratio(q.latencyMsP50, fp.latencyMsP50), throughputInt8OverFp32: ratio(q.throughput, fp.throughput) }];
    }),
  ) as Record<EdgeFile, { files: { int8: string; fp32: string }; int8: (typeof figuresOf)[Contestant]; fp32: (typeof figuresOf)[Contestant]; latencyInt8OverFp32: number; throughputInt8OverFp32: number }>;
  const result = {
    bench: "inference",
    model: "fashion_mnist/main",
    ortFile: floatMain,
    batch,
    macsPerSample: macs,
    engines: figures,
    ratios: {
      latencyWasmOverOrt: ratio(figures.wasm.latencyMsP50, figures.onnxruntime.latencyMsP50),
      latencyCpuOverOrt: ratio(figures.cpu.latencyMsP50, figures.onnxruntime.latencyMsP50),
      throughputOrtOverWasm: ratio(figures.onnxruntime.throughput, figures.wasm.throughput),
      throughputOrtOverCpu: ratio(figures.onnxruntime.throughput, figures.cpu.throughput),
    },
    outputsAgree: Number(Math.max(agree.wasm, agree.cpu).toExponential(2)),
    outputsAgreeByEngine: { wasm: Number(agree.wasm.toExponential(2)), cpu: Number(agree.cpu.toExponential(2)) },
    precision: { ortThreads: 1, ...precision },
    rounds,
    ortThreads: ortThreads || "default",
    wasmSimd: tf.env().getBool("WASM_HAS_SIMD_SUPPORT"),
    wasmThreads: tf.env().getBool("WASM_HAS_MULTITHREAD_SUPPORT"),
    versions: { onnxruntime: ort.env.versions.node ?? ort.env.versions.common, tfjs: tf.version.tfjs },
    timedSeconds: round(seconds, 1),
  };

  for (const m of models.values()) m.model.dispose();
  await session.release();
  for (const s of precisionSessions) await s.release();

  if (!values.json) {
    console.log(`main block of fashion_mnist (${macs.toLocaleString("en-US")} MACs/sample), ${rounds} interleaved rounds, ${result.timedSeconds} s timed`);
    console.log(`${"engine".padEnd(12)} ${"p50 ms".padStart(8)} ${"p90 ms".padStart(8)} ${`batch ${batch} ms`.padStart(12)} ${"samples/s".padStart(10)}   runs/batches`);
    for (const e of ENGINES) {
      const f = figures[e];
      console.log(
        `${e.padEnd(12)} ${f.latencyMsP50.toFixed(3).padStart(8)} ${f.latencyMsP90.toFixed(3).padStart(8)} ${f.batchMsP50.toFixed(2).padStart(12)} ${f.throughput.toFixed(1).padStart(10)}   ${f.latencyRuns}/${f.batches}`,
      );
    }
    const q = result.ratios;
    console.log(`latency  wasm/ort ${q.latencyWasmOverOrt}×, cpu/ort ${q.latencyCpuOverOrt}×`);
    console.log(`throughput  ort/wasm ${q.throughputOrtOverWasm}×, ort/cpu ${q.throughputOrtOverCpu}×`);
    console.log(`max |Δ probs| vs ORT on one batch of ${batch}: wasm ${result.outputsAgreeByEngine.wasm}, cpu ${result.outputsAgreeByEngine.cpu}`);
    console.log(`\nint8 edge files against their float32 references, onnxruntime on one thread`);
    console.log(`${"file".padEnd(16)} ${"p50 ms".padStart(8)} ${"p90 ms".padStart(8)} ${`batch ${batch} ms`.padStart(12)} ${"samples/s".padStart(10)}   runs/batches`);
    for (const f of EDGE_FILES) {
      for (const p of ["int8", "fp32"] as const) {
        const x = precision[f][p];
        console.log(
          `${`${f} ${p}`.padEnd(16)} ${x.latencyMsP50.toFixed(3).padStart(8)} ${x.latencyMsP90.toFixed(3).padStart(8)} ${x.batchMsP50.toFixed(2).padStart(12)} ${x.throughput.toFixed(1).padStart(10)}   ${x.latencyRuns}/${x.batches}`,
        );
      }
      console.log(`${f}: latency int8/fp32 ${precision[f].latencyInt8OverFp32}×, throughput int8/fp32 ${precision[f].throughputInt8OverFp32}×`);
    }
  }
  console.log(JSON.stringify(result));
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
