/**
 * Training throughput of the Fashion-MNIST example's main block on the wasm and cpu backends, in one run.
 *
 *   node --import tsx bench/train.ts [--json] [--steps N] [--cpu-steps N] [--batch B]
 *
 * Both backends train the same seeded model on the same real images for a fixed number of steps
 * (after one untimed warm-up step). FLOPs per sample = 6 × the block's MACs (forward, and the two
 * gradient products of the backward pass). The last line with --json is one JSON object.
 */
import { parseArgs } from "node:util";
import { emitIrJson } from "../src/codegen/index.js";
import { loadSpec } from "../src/toolchain/load.js";
import { selectBackend } from "../src/runtime/train/backend.js";
import { buildBlockModel } from "../src/runtime/train/builder.js";
import { registerWasmGradientKernels } from "../src/runtime/train/kernels/index.js";
import { loadTrainingData } from "../src/runtime/train/run.js";
import { inputTensor } from "../src/runtime/train/forward.js";
import { tf } from "../src/runtime/train/tf.js";

const { values } = parseArgs({ options: { json: { type: "boolean" }, steps: { type: "string" }, "cpu-steps": { type: "string" }, batch: { type: "string" } } });
const steps = Number(values.steps ?? 20);
const cpuSteps = Number(values["cpu-steps"] ?? 2);
const batch = Number(values.batch ?? 64);

const r = loadSpec("examples/fashion-mnist.meanet");
const ir = emitIrJson(r.ir!, r.shapes, r.results);
const block = ir.blocks.find((b) => b.name === "main")!;
const exit = ir.exits.find((e) => e.name === "main")!;
const macs = block.nodes.reduce((s, n) => s + ir.nodes[n]!.macs, 0);
const data = loadTrainingData(ir, { limitTrain: batch * (steps + 1), limitTest: 1 });

async function samplesPerSecond(backend: "wasm" | "cpu", n: number): Promise<number> {
  await selectBackend(backend, (name) => void (name === "wasm" && registerWasmGradientKernels()));
  const m = buildBlockModel(ir, block, 1);
  const out = m.outputs.indexOf(exit.tensor);
  const opt = tf.train.adam(1e-3);
  const size = 28 * 28;
  const step = async (i: number) => {
    const loss = tf.tidy(() => {
      const x = inputTensor(data.train.images.subarray(i * batch * size, (i + 1) * batch * size), batch, ir.input.shape);
      const y = tf.oneHot(tf.tensor1d(data.train.labels.subarray(i * batch, (i + 1) * batch), "int32"), 10);
      return opt.minimize(() => {
        const outs = m.model.apply(x, { training: true }) as tf.Tensor[];
        return tf.losses.softmaxCrossEntropy(y, outs[out]!) as tf.Scalar;
      }, true)!;
    });
    await loss.data();
    loss.dispose();
  };
  await step(0);
  const t0 = performance.now();
  for (let i = 1; i <= n; i++) await step(i % (steps + 1));
  const seconds = (performance.now() - t0) / 1000;
  m.model.dispose();
  opt.dispose();
  return (n * batch) / seconds;
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

const wasm = await samplesPerSecond("wasm", steps);
const cpu = await samplesPerSecond("cpu", cpuSteps);
const peak = await matmulPeak();
const result = {
  wasmSamplesPerSecond: Math.round(wasm * 10) / 10,
  cpuSamplesPerSecond: Math.round(cpu * 100) / 100,
  ratio: Math.round((wasm / cpu) * 10) / 10,
  gflops: Math.round(((wasm * 6 * macs) / 1e9) * 100) / 100,
  wasmMatmulPeakGflops: Math.round(peak * 10) / 10,
  macsPerSample: macs,
  batch,
  steps: { wasm: steps, cpu: cpuSteps },
};
if (!values.json) {
  console.log(`main block (${macs.toLocaleString("en-US")} MACs/sample), batch ${batch}`);
  console.log(`wasm: ${result.wasmSamplesPerSecond} samples/s (${result.gflops} GFLOP/s); cpu: ${result.cpuSamplesPerSecond} samples/s; ratio ${result.ratio}`);
  console.log(`wasm matMul 1024³ peak: ${result.wasmMatmulPeakGflops} GFLOP/s`);
}
console.log(JSON.stringify(result));
