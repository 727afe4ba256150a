/**
 * Inference speed of the Fashion-MNIST example's main block: onnxruntime-node on the exported
 * edge/main.onnx against tfjs on the wasm and cpu backends, in one run.
 *
 *   node --import tsx bench/infer.ts [--json] [--rounds R] [--runs N] [--cpu-runs N]
 *                                    [--batches N] [--cpu-batches N] [--batch B] [--seed S] [--ort-threads T]
 *
 * The spec is compiled into a temporary directory and exported with seeded random weights
 * (`meanet export --random-weights --seed 1`); tfjs builds the same block with the same seed.
 * Each engine does an untimed warm-up, then the engines take turns, round after round (the
 * order rotates each round), so that load changes on a shared machine hit all of them alike.
 * A round is N single-sample runs (latency) and N batches of B samples (throughput) per engine;
 * cpu gets fewer of both. Every timed call is end to end: from the uint8 pixels to the main
 * probabilities read back into JS (ORT: new Tensor + run, fetching probs_main only; tfjs: the
 * float input tensor, predict, softmax, dataSync). Latency is the median and p90 of all
 * single-sample runs; throughput is B / the median batch time. Inputs are seeded random pixels.
 * The last line with --json is one JSON object.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as ort from "onnxruntime-node";
import { compile } from "../src/cli/compile.js";
import { exportCommand } from "../src/cli/export.js";
import type { Io } from "../src/cli/io.js";
import type { IrJson } from "../src/format/ir.js";
import { selectBackend } from "../src/runtime/train/backend.js";
import { buildBlockModel } from "../src/runtime/train/builder.js";
import { inputTensor } from "../src/runtime/train/forward.js";
import { tf } from "../src/runtime/train/tf.js";

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

/** Runs one batch end to end and returns the main probabilities. */
type Infer = (images: Uint8Array, n: number) => Float32Array | Promise<Float32Array>;

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

/** Runs a meanet command in-process, keeping its output unless it fails. */
async function meanet(run: (argv: string[], io: Io) => number | Promise<number>, argv: string[]): Promise<void> {
  const log: string[] = [];
  const io: Io = { out: (t) => void log.push(t), err: (t) => void log.push(t), isTty: false };
  if ((await run(argv, io)) !== 0) throw new Error(`meanet ${argv.join(" ")} failed:\n${log.join("\n")}`);
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

  // onnxruntime
  const session = await ort.InferenceSession.create(join(buildDir, "edge", "main.onnx"), {
    ...(ortThreads > 0 ? { intraOpNumThreads: ortThreads, interOpNumThreads: 1 } : {}),
  });
  const inputName = session.inputNames[0]!;
  if (!session.outputNames.includes("probs_main")) throw new Error(`edge/main.onnx has no probs_main output (${session.outputNames.join(", ")})`);
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
  const infer: Record<Engine, Infer> = { onnxruntime: ortInfer, wasm: tfInfer("wasm"), cpu: tfInfer("cpu") };
  const use = async (engine: Engine) => {
    if (engine !== "onnxruntime" && tf.getBackend() !== engine) await selectBackend(engine);
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
  const latency: Record<Engine, number[]> = { onnxruntime: [], wasm: [], cpu: [] };
  const batchMs: Record<Engine, number[]> = { onnxruntime: [], wasm: [], cpu: [] };
  const perRound = (e: Engine) => (e === "cpu" ? { runs: cpuRuns, batches: cpuBatches } : { runs, batches });
  for (const e of ENGINES) {
    await use(e);
    const [ones, full] = e === "cpu" ? [5, 1] : [50, 3];
    for (let i = 0; i < ones; i++) await infer[e](single(i), 1);
    for (let i = 0; i < full; i++) await infer[e](pool[i + 1]!, batch);
  }
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < ENGINES.length; k++) {
      const e = ENGINES[(r + k) % ENGINES.length]!;
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
  const figures = Object.fromEntries(
    ENGINES.map((e) => {
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
  ) as Record<Engine, { latencyMsP50: number; latencyMsP90: number; throughput: number; batchMsP50: number; latencyRuns: number; batches: number }>;
  const ratio = (a: number, b: number) => round(a / b, 2);
  const result = {
    bench: "inference",
    model: "fashion_mnist/main",
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
    rounds,
    ortThreads: ortThreads || "default",
    wasmSimd: tf.env().getBool("WASM_HAS_SIMD_SUPPORT"),
    wasmThreads: tf.env().getBool("WASM_HAS_MULTITHREAD_SUPPORT"),
    versions: { onnxruntime: ort.env.versions.node ?? ort.env.versions.common, tfjs: tf.version.tfjs },
    timedSeconds: round(seconds, 1),
  };

  for (const m of models.values()) m.model.dispose();
  await session.release();

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
  }
  console.log(JSON.stringify(result));
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
