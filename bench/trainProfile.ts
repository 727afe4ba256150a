/**
 * Where one training step of a block of the Fashion-MNIST example spends its time on the wasm
 * backend, kernel by kernel.
 *
 *   node --import tsx bench/trainProfile.ts [--json] [--block main|cloud] [--batch B] [--steps N] [--plain N] [--shapes K]
 *
 * The block is built and trained as `meanet train` does (buildBlockModel, the wasm gradient
 * kernels, runBlocks in training mode, the masked cross-entropy of the exit, Adam with the stage's
 * learning rate over the block's trainable weights). After 2 untimed warm-up steps, `--steps`
 * steps (default 5) run each inside `tf.profile`, and `--plain` steps (default 5) run without it
 * to time the step as training runs it.
 *
 * Kernel times are tf.profile's `kernelTimeMs`. On wasm the engine's profiler asks the backend to
 * time each kernel, and the backend's `time(f)` is `performance.now()` around the kernel's
 * synchronous run; no outputs are read back. The script stops if any kernel's time is missing.
 *
 * Phases come from where the step is when a kernel runs, not from kernel names (Mul, Add, Sum… run
 * in both directions): `input` (the image batch as floats), `forward` (the block and the loss,
 * under the gradient tape), `backward` (tfjs' gradient functions, from the loss back to the
 * weights), `optimizer` (Adam's update). tf.profile also records custom-gradient ops (tf.customGrad,
 * fusedConv2d, fusedMatMul…), whose forward runs kernels inside them; those kernels are profiled
 * too. Times in the table are exclusive (an entry's own time less that of the kernels inside it),
 * so they add up to the time of the outermost entries and nothing is counted twice; such a scope is
 * listed as [name], its own time being the engine's work around its inner kernels.
 *
 * A second table splits the K (default 12) costliest kernels by their input shapes.
 *
 * The last line with --json is one JSON object; times are per step (the mean over the profiled steps).
 */
import { parseArgs } from "node:util";
import { emitIrJson } from "../src/codegen/index.js";
import { loadSpec } from "../src/toolchain/load.js";
import { selectBackend } from "../src/runtime/train/backend.js";
import { blockInputs, buildBlockModel, type BlockModel } from "../src/runtime/train/builder.js";
import { registerWasmGradientKernels } from "../src/runtime/train/kernels/index.js";
import { setDropoutStep } from "../src/runtime/train/layers.js";
import { loadTrainingData } from "../src/runtime/train/run.js";
import { inputTensor, runBlocks } from "../src/runtime/train/forward.js";
import { tf, type Tensor } from "../src/runtime/train/tf.js";
import { percentile, round } from "./common.js";

const { values } = parseArgs({ options: { json: { type: "boolean" }, block: { type: "string" }, batch: { type: "string" }, steps: { type: "string" }, plain: { type: "string" }, shapes: { type: "string" } } });
const blockName = values.block ?? "main";
const profiled = Number(values.steps ?? 5);
const plainSteps = Number(values.plain ?? 5);
const shapesTop = Number(values.shapes ?? 12);
const WARMUP = 2;

const r = loadSpec("examples/fashion-mnist.meanet");
const ir = emitIrJson(r.ir!, r.shapes, r.results);
const block = ir.blocks.find((b) => b.name === blockName);
if (!block) throw new Error(`no block \`${blockName}\` (blocks: ${ir.blocks.map((b) => b.name).join(", ")})`);
const exit = ir.exits.find((e) => e.block === block.name);
if (!exit || exit.classes.kind !== "all") throw new Error(`block \`${blockName}\` has no exit over all classes; profile main or cloud`);
if (blockInputs(ir, block).join() !== String(ir.input.tensor)) throw new Error(`block \`${blockName}\` reads other blocks; profile one that reads only the image (main, cloud)`);
const stage = ir.training.stages.find((s) => s.train.includes(block.name))!;
const batch = Number(values.batch ?? stage.batch);
const macs = block.nodes.reduce((s, n) => s + ir.nodes[n]!.macs, 0);
const totalSteps = WARMUP + profiled + plainSteps;
const data = loadTrainingData(ir, { limitTrain: batch * totalSteps, limitTest: 1 });
const SIZE = ir.input.shape.reduce((a, b) => a * b, 1);

await selectBackend("wasm", (name) => void (name === "wasm" && registerWasmGradientKernels()));
const bm: BlockModel = buildBlockModel(ir, block, 1);
const models = new Map([[block.name, bm]]);
const vars = bm.model.trainableWeights.map((w) => w.read() as tf.Variable);
const opt = stage.optimizer.kind === "adam" ? tf.train.adam(stage.optimizer.lr) : tf.train.momentum(stage.optimizer.lr, stage.optimizer.momentum, stage.optimizer.nesterov);

// Nesting: the engine's profiler times every kernel, including one run from inside another.
// Wrapping it records each kernel's depth, in the order the engine appends to the profile.
interface Profiler {
  profileKernel(name: string, inputs: unknown, f: () => Tensor[]): unknown;
}
const profiler = (tf.engine() as unknown as { profiler: Profiler }).profiler;
const profileKernel = profiler.profileKernel.bind(profiler);
let depth = 0;
let depths: number[] = [];
profiler.profileKernel = (name, inputs, f) => {
  depth++;
  try {
    return profileKernel(name, inputs, f);
  } finally {
    depth--;
    depths.push(depth);
  }
};

const PHASES = ["input", "forward", "backward", "optimizer", "read"] as const;
type Phase = (typeof PHASES)[number];
/** Kernels in the active profile so far; only meaningful while tf.profile runs. */
const recorded = () => tf.engine().state.activeProfile.kernels.length;

/** The cross-entropy of an exit over all classes and its hits, as `meanet train` computes them (identity label map). */
function exitLoss(logits: Tensor, labels: Int32Array): { loss: Tensor; correct: Tensor } {
  const k = logits.shape[1]!;
  const mask = tf.tensor1d(Float32Array.from(labels, () => 1));
  const target = tf.oneHot(tf.tensor1d(labels, "int32"), k);
  const n = tf.maximum(tf.sum(mask), 1);
  const perSample = tf.losses.softmaxCrossEntropy(target, logits, undefined, undefined, tf.Reduction.NONE);
  const loss = tf.div(tf.sum(tf.mul(perSample, mask)), n);
  const hit = tf.mul(tf.cast(tf.equal(tf.argMax(logits, 1), tf.argMax(target, 1)), "float32"), mask);
  return { loss, correct: tf.sum(hit) };
}

/** One optimizer step on batch i; `marks` receives the kernel count at the end of each phase. */
async function step(i: number, marks?: number[]): Promise<number> {
  const t0 = performance.now();
  const mark = () => void marks?.push(recorded());
  setDropoutStep(i);
  const images = data.train.images.subarray(i * batch * SIZE, (i + 1) * batch * SIZE);
  const labels = data.train.labels.subarray(i * batch, (i + 1) * batch);
  const { loss, hits } = tf.tidy(() => {
    const x = inputTensor(images, batch, ir.input.shape);
    const known = new Map<number, Tensor>([[ir.input.tensor, x]]);
    mark();
    let hitsT: Tensor | undefined;
    const { value, grads } = opt.computeGradients(() => {
      const v = new Map(known);
      runBlocks(ir, models, [block!.name], v, () => true);
      const { loss: l, correct } = exitLoss(v.get(exit!.tensor)!, labels);
      hitsT = tf.keep(correct);
      mark();
      return l as tf.Scalar;
    }, vars);
    mark();
    opt.applyGradients(vars.map((v) => ({ name: v.name, tensor: grads[v.name]! })));
    tf.dispose(grads);
    mark();
    return { loss: value, hits: hitsT! };
  });
  await loss.data();
  await hits.data();
  loss.dispose();
  hits.dispose();
  return performance.now() - t0;
}

for (let i = 0; i < WARMUP; i++) await step(i);

interface Row {
  name: string;
  count: number;
  ms: number;
  byPhase: Record<Phase, number>;
}
const rows = new Map<string, Row>();
/** Exclusive time and count per kernel and input shapes. */
const byShape = new Map<string, { name: string; shapes: string; count: number; ms: number }>();
const phaseMs: Record<Phase, number> = { input: 0, forward: 0, backward: 0, optimizer: 0, read: 0 };
let wallMs = 0;
let kernelMs = 0;
let nested = 0;
let scopeEntries = 0;
for (let s = 0; s < profiled; s++) {
  const marks: number[] = [];
  depths = [];
  let stepMs = 0;
  const info = await tf.profile(async () => {
    stepMs = await step(WARMUP + s, marks);
  });
  wallMs += stepMs;
  if (depths.length !== info.kernels.length) throw new Error(`the profile has ${info.kernels.length} kernels but ${depths.length} were timed`);
  // Entries come in the order they finish, so a kernel's inner kernels come just before it, one
  // level deeper: childMs[d + 1] holds their time until the entry at depth d takes it off its own.
  const childMs: number[] = [];
  info.kernels.forEach((k, i) => {
    const ms = k.kernelTimeMs;
    if (typeof ms !== "number" || !Number.isFinite(ms)) throw new Error(`kernel ${k.name} has no time in tf.profile: ${JSON.stringify(ms)}`);
    const d = depths[i]!;
    const own = ms - (childMs[d + 1] ?? 0);
    childMs[d + 1] = 0;
    childMs[d] = (childMs[d] ?? 0) + ms;
    if (d === 0) kernelMs += ms;
    else nested++;
    // Not a kernel of the backend: a custom-gradient op (tf.customGrad, or an op with its own
    // gradient such as fusedConv2d) whose forward runs other kernels inside it.
    const scope = tf.getKernel(k.name, "wasm") === undefined;
    if (scope) scopeEntries++;
    const name = scope ? `[${k.name}]` : k.name;
    const phase = PHASES[marks.findIndex((m) => i < m)] ?? "read";
    const row = rows.get(name) ?? { name, count: 0, ms: 0, byPhase: { input: 0, forward: 0, backward: 0, optimizer: 0, read: 0 } };
    row.count++;
    row.ms += own;
    row.byPhase[phase] += own;
    rows.set(name, row);
    phaseMs[phase] += own;
    if (!scope) {
      const shapes = k.inputShapes.map((sh) => (sh ? `[${sh.join(",")}]` : "-")).join(" ");
      const key = `${name} ${shapes}`;
      const e = byShape.get(key) ?? { name, shapes, count: 0, ms: 0 };
      e.count++;
      e.ms += own;
      byShape.set(key, e);
    }
  });
}

const plainMs: number[] = [];
for (let s = 0; s < plainSteps; s++) plainMs.push(await step(WARMUP + profiled + s));
const plainMedian = percentile(plainMs.sort((a, b) => a - b), 50);
bm.model.dispose();
opt.dispose();

const per = (x: number) => x / profiled;
const wall = per(wallMs);
const sorted = [...rows.values()].sort((a, b) => b.ms - a.ms);
const result = {
  backend: tf.getBackend(),
  wasmSimd: tf.env().getBool("WASM_HAS_SIMD_SUPPORT"),
  wasmThreads: tf.env().getBool("WASM_HAS_MULTITHREAD_SUPPORT"),
  kernelTimeSource: "tf.profile kernelTimeMs (wasm backend time(): performance.now around the kernel's synchronous run)",
  block: block.name,
  batch,
  profiledSteps: profiled,
  plainSteps,
  macsPerSample: macs,
  wallMsPerStep: round(wall, 2),
  plainWallMsPerStep: round(plainMedian, 2),
  plainSamplesPerSecond: round((batch * 1000) / plainMedian, 1),
  kernelMsPerStep: round(per(kernelMs), 2),
  kernelShareOfWall: round(kernelMs / wallMs, 4),
  outsideKernelsMsPerStep: round(wall - per(kernelMs), 2),
  phases: Object.fromEntries(PHASES.map((p) => [p, { ms: round(per(phaseMs[p]), 2), share: round(phaseMs[p] / wallMs, 4) }])),
  nestedKernelsPerStep: round(per(nested), 2),
  scopeEntriesPerStep: round(per(scopeEntries), 2),
  topKernelsByShape: [...byShape.values()]
    .sort((a, b) => b.ms - a.ms)
    .slice(0, shapesTop)
    .map((e) => ({ name: e.name, inputShapes: e.shapes, countPerStep: round(per(e.count), 2), ms: round(per(e.ms), 3), share: round(e.ms / wallMs, 4) })),
  kernels: sorted.map((k) => ({
    name: k.name,
    countPerStep: round(per(k.count), 2),
    ms: round(per(k.ms), 3),
    share: round(k.ms / wallMs, 4),
    ...Object.fromEntries(PHASES.filter((p) => k.byPhase[p] > 0).map((p) => [`${p}Ms`, round(per(k.byPhase[p]), 3)])),
  })),
};

{
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`.padStart(6);
  const ms = (x: number) => x.toFixed(2).padStart(9);
  console.log(`${block.name} block (${macs.toLocaleString("en-US")} MACs/sample), batch ${batch}, wasm (simd ${result.wasmSimd}, threads ${result.wasmThreads})`);
  console.log(`step wall time: ${wall.toFixed(1)} ms profiled (mean of ${profiled}), ${plainMedian.toFixed(1)} ms unprofiled (median of ${plainSteps}); ${result.plainSamplesPerSecond} samples/s`);
  console.log(`kernels: ${per(kernelMs).toFixed(1)} ms per step = ${pct(kernelMs / wallMs).trim()} of the profiled wall time; outside kernels ${result.outsideKernelsMsPerStep} ms`);
  console.log(`phases: ${PHASES.filter((p) => phaseMs[p] > 0).map((p) => `${p} ${per(phaseMs[p]).toFixed(1)} ms (${pct(phaseMs[p] / wallMs).trim()})`).join(", ")}`);
  console.log(`kernels run inside another profiled entry: ${per(nested)} per step (times below are exclusive: an entry's own time less its inner kernels'; [name] = a custom-gradient scope, not a kernel)`);
  console.log("");
  console.log(`${"kernel".padEnd(26)} ${"n/step".padStart(6)} ${"ms/step".padStart(9)} ${"share".padStart(6)} ${"forward".padStart(9)} ${"backward".padStart(9)} ${"optim".padStart(9)} ${"input".padStart(9)}`);
  for (const k of sorted) {
    const b = k.byPhase;
    console.log(`${k.name.padEnd(26)} ${String(round(per(k.count), 1)).padStart(6)} ${ms(per(k.ms))} ${pct(k.ms / wallMs)} ${ms(per(b.forward))} ${ms(per(b.backward))} ${ms(per(b.optimizer))} ${ms(per(b.input))}`);
  }
  if (result.topKernelsByShape.length) {
    console.log("");
    console.log(`${"kernel".padEnd(26)} ${"n/step".padStart(6)} ${"ms/step".padStart(9)} ${"share".padStart(6)}  input shapes`);
    for (const e of result.topKernelsByShape) console.log(`${e.name.padEnd(26)} ${String(e.countPerStep).padStart(6)} ${ms(e.ms)} ${pct(e.share)}  ${e.inputShapes}`);
  }
}
if (values.json) console.log(JSON.stringify(result));
