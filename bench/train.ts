/**
 * Training throughput of the Fashion-MNIST example's main and cloud blocks: meanet (wasm backend,
 * 1 and 2 workers) against PyTorch on the CPU (1 and 2 threads), in one run, alternating.
 *
 *   node --import tsx bench/train.ts [--json] [--steps N] [--rounds R] [--blocks main,cloud] [--cpu]
 *
 * Each configuration trains the block the way its training stage does (the stage's optimizer,
 * Adam here, the example's layers, real Fashion-MNIST images) for N timed steps after one untimed
 * warm-up step; main at batch 64, cloud at batch 128. The PyTorch side is bench/torch_train.py,
 * which builds the same layers from the compiled ir.json; it runs with /usr/bin/python3 (Debian's
 * python3-torch) and is skipped, saying so, when that is missing. Rounds alternate the
 * configurations; the best of the rounds is reported, with every round's figure. FLOPs per sample
 * = 6 × the block's MACs (forward, and the two gradient products of the backward pass); the wasm
 * backend's matMul peak on one thread is measured in the same run. With --cpu, the main block also
 * trains a few steps on tfjs' cpu backend (slow: about a minute). The last line with --json is one
 * JSON object.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { emitIrJson } from "../src/codegen/index.js";
import type { IrJson } from "../src/format/ir.js";
import { loadSpec } from "../src/toolchain/load.js";
import { selectBackend } from "../src/runtime/train/backend.js";
import { buildBlockModel, type BlockModel } from "../src/runtime/train/builder.js";
import { subset } from "../src/runtime/train/data/dataset.js";
import { registerWasmGradientKernels } from "../src/runtime/train/kernels/index.js";
import { setDropoutStep } from "../src/runtime/train/layers.js";
import { ReplicaGroup } from "../src/runtime/train/parallel/pool.js";
import { loadTrainingData } from "../src/runtime/train/run.js";
import { makeOptimizer } from "../src/runtime/train/schedule.js";
import { planStage } from "../src/runtime/train/stage.js";
import { lossDenominators, trainStep, type StepBatch } from "../src/runtime/train/step.js";
import { tf } from "../src/runtime/train/tf.js";
import { round } from "./common.js";

const { values } = parseArgs({ options: { json: { type: "boolean" }, steps: { type: "string" }, rounds: { type: "string" }, blocks: { type: "string" }, cpu: { type: "boolean" } } });
const steps = Number(values.steps ?? 20);
const rounds = Number(values.rounds ?? 2);
const BATCH: Record<string, number> = { main: 64, cloud: 128 };
const blocks = (values.blocks ?? "main,cloud").split(",");
const DATA = "data/fashion-mnist";
const PYTHON = "/usr/bin/python3";

const r = loadSpec("examples/fashion-mnist.meanet");
const ir: IrJson = emitIrJson(r.ir!, r.shapes, r.results);
const dir = mkdtempSync(join(tmpdir(), "meanet-bench-train-"));
const irPath = join(dir, "ir.json");
writeFileSync(irPath, JSON.stringify(ir));
const maxBatch = Math.max(...blocks.map((b) => BATCH[b]!));
const data = loadTrainingData(ir, { data: DATA, limitTrain: maxBatch * (steps + 1), limitTest: 1 });

function macsOf(block: string): number {
  return ir.blocks.find((b) => b.name === block)!.nodes.reduce((s, n) => s + ir.nodes[n]!.macs, 0);
}

/** samples/s of meanet training `block` (the stage that trains it) with `workers` threads on `backend`. */
async function meanetRun(block: string, workers: number, backend: "wasm" | "cpu", n: number): Promise<number> {
  await selectBackend(backend, (name) => void (name === "wasm" && registerWasmGradientKernels()));
  const batch = BATCH[block]!;
  const models = new Map<string, BlockModel>(ir.blocks.map((b) => [b.name, buildBlockModel(ir, b, 1)]));
  const index = ir.training.stages.findIndex((s) => s.train.includes(block) && s.data === "all");
  const plan = planStage(ir, models, index, 1, data.train, null);
  const opt = makeOptimizer(plan.stage.optimizer);
  const group = workers > 1 ? await ReplicaGroup.start(ir, 1, backend, workers, models) : undefined;
  try {
    group?.startStage(plan, [], models);
    const step = (i: number) => {
      const rows = subset(data.train, [...Array(batch).keys()].map((k) => ((i % (steps + 1)) * batch + k) % data.train.count));
      const whole: StepBatch = { images: rows.images, labels: rows.labels, count: batch, denominators: lossDenominators(plan, rows.labels), decay: true };
      setDropoutStep(i);
      return group ? group.step(ir, models, plan, opt.optimizer, opt.weightDecay, whole, i) : trainStep(ir, models, plan, opt.optimizer, opt.weightDecay, whole);
    };
    step(0);
    const t0 = performance.now();
    for (let i = 1; i <= n; i++) step(i);
    return (n * batch) / ((performance.now() - t0) / 1000);
  } finally {
    await group?.close();
    opt.optimizer.dispose();
    for (const bm of models.values()) bm.model.dispose();
  }
}

/** samples/s of PyTorch training `block` on `threads` threads, or the reason it was skipped. */
function torchRun(block: string, threads: number): number | string {
  const p = spawnSync(PYTHON, ["bench/torch_train.py", "--ir", irPath, "--block", block, "--batch", String(BATCH[block]), "--steps", String(steps), "--threads", String(threads), "--data", DATA], { encoding: "utf8" });
  if (p.error) return `${PYTHON} cannot run: ${p.error.message}`;
  const last = p.stdout.trim().split("\n").pop() ?? "";
  if (p.status !== 0) throw new Error(`torch_train.py failed:\n${p.stderr}`);
  const out = JSON.parse(last) as { samplesPerSecond?: number; skipped?: string };
  return out.skipped ?? out.samplesPerSecond!;
}

async function matmulPeak(): Promise<number> {
  await selectBackend("wasm");
  const n = 1024;
  const a = tf.randomNormal([n, n], 0, 1, "float32", 1);
  const b = tf.randomNormal([n, n], 0, 1, "float32", 2);
  let best = Infinity;
  for (let i = 0; i < 6; i++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    await c.data();
    best = Math.min(best, (performance.now() - t0) / 1000);
    c.dispose();
  }
  a.dispose();
  b.dispose();
  return (2 * n ** 3) / best / 1e9;
}

const CONFIGS = [
  { name: "meanet-1", run: (b: string) => meanetRun(b, 1, "wasm", steps) },
  { name: "meanet-2", run: (b: string) => meanetRun(b, 2, "wasm", steps) },
  { name: "pytorch-1", run: async (b: string) => torchRun(b, 1) },
  { name: "pytorch-2", run: async (b: string) => torchRun(b, 2) },
];

const peak = await matmulPeak();
const load = loadavg()[0]!;
const results: Record<string, unknown> = {};
for (const block of blocks) {
  const runs: Record<string, number[]> = {};
  let skipped: string | undefined;
  for (let round_ = 0; round_ < rounds; round_++) {
    // Alternate the order between rounds so that drift in the machine's load falls on both sides.
    const order = round_ % 2 === 0 ? CONFIGS : [...CONFIGS].reverse();
    for (const c of order) {
      const v = await c.run(block);
      if (typeof v === "string") skipped = v;
      else (runs[c.name] ??= []).push(v);
    }
  }
  const best = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, Math.max(...v)]));
  const macs = macsOf(block);
  const gflops = (sps: number) => round((sps * 6 * macs) / 1e9, 2);
  const torchBest = Math.max(best["pytorch-1"] ?? NaN, best["pytorch-2"] ?? NaN);
  const meanetBest = Math.max(best["meanet-1"] ?? NaN, best["meanet-2"] ?? NaN);
  results[block] = {
    batch: BATCH[block],
    macsPerSample: macs,
    samplesPerSecond: Object.fromEntries(Object.entries(best).map(([k, v]) => [k, round(v, 1)])),
    rounds: Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, v.map((x) => round(x, 1))])),
    gflops: Object.fromEntries(Object.entries(best).map(([k, v]) => [k, gflops(v)])),
    /** GFLOP/s per thread of the best meanet configuration, against the wasm matMul peak of one thread. */
    meanetShareOfPeakPerThread: round(Math.max(gflops(best["meanet-1"] ?? 0), gflops(best["meanet-2"] ?? 0) / 2) / peak, 3),
    ratioToPytorchBest: Number.isFinite(torchBest) ? round(meanetBest / torchBest, 3) : null,
    ...(skipped ? { pytorchSkipped: skipped } : {}),
  };
}
if (values.cpu) results["cpuBackend"] = { mainSamplesPerSecond: round(await meanetRun("main", 1, "cpu", 2), 2) };
rmSync(dir, { recursive: true, force: true });

const torchVersion = (() => {
  try {
    return execFileSync(PYTHON, ["-c", "import torch; print(torch.__version__)"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return null;
  }
})();
const result = { date: new Date().toISOString(), loadAverage1m: round(load, 2), steps, rounds, wasmMatmulPeakGflops: round(peak, 1), torch: torchVersion, blocks: results };
if (!values.json) {
  for (const [block, v] of Object.entries(results)) console.log(block, JSON.stringify(v));
  console.log(`wasm matMul 1024³ peak (one thread): ${result.wasmMatmulPeakGflops} GFLOP/s; load ${result.loadAverage1m}`);
}
console.log(JSON.stringify(result));
