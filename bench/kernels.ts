/**
 * Times the wasm gradient kernels (src/runtime/train/kernels) against tfjs' cpu backend.
 *
 *   node --import tsx bench/kernels.ts [--json] [--runs N] [--cpu-runs N]
 *
 * Each case runs the kernel alone (tf.engine().runKernel) on the same seeded inputs on
 * both backends; the figure is the median wall time of the timed runs after a warm-up.
 * The wasm forward conv of the same geometry is timed too: `vsForward` (gradient time
 * over forward time) holds up better than raw times on a shared, loaded machine.
 * Kernels we register in place of the wasm backend's own (Conv2DBackpropInput, MaxPoolGrad) are also
 * timed with the built-in one put back, alternating run by run with ours so that load
 * changes hit both alike: `builtinOverOurs` is the speed-up of the replacement.
 * The last line under --json is one JSON object with every time and ratio.
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { registerWasmGradientKernels, wasmKernelReplacements } from "../src/runtime/train/kernels/index.js";

interface KernelCall {
  kernel: string;
  shapes: Record<string, number[]>;
  attrs: Record<string, unknown>;
}

interface Case extends KernelCall {
  name: string;
  /** Multiply-adds of the gradient (equal to the forward conv's). */
  macs: number;
  /** The forward conv of the same geometry, timed on wasm as a yardstick. */
  forward: KernelCall;
}

const conv2dForward = (strides: number, filter: number[], x = [64, 14, 14, 16]): KernelCall => ({
  kernel: tf.Conv2D,
  shapes: { x, filter },
  attrs: { strides, pad: "same", dataFormat: "NHWC", dilations: 1 },
});
const depthwiseForward = (x: number[], strides: number, filter: number[]): KernelCall => ({
  kernel: tf.DepthwiseConv2dNative,
  shapes: { x, filter },
  attrs: { strides, pad: "same", dilations: 1 },
});

const x = [64, 14, 14, 16];
const CASES: Case[] = [
  {
    name: "conv2d filter grad x=[64,14,14,16] 3x3→32 same s1",
    kernel: tf.Conv2DBackpropFilter,
    shapes: { x, dy: [64, 14, 14, 32] },
    attrs: { strides: 1, pad: "same", dataFormat: "NHWC", filterShape: [3, 3, 16, 32] },
    macs: 64 * 14 * 14 * 9 * 16 * 32,
    forward: conv2dForward(1, [3, 3, 16, 32]),
  },
  {
    name: "conv2d filter grad x=[64,14,14,16] 3x3→32 same s2",
    kernel: tf.Conv2DBackpropFilter,
    shapes: { x, dy: [64, 7, 7, 32] },
    attrs: { strides: 2, pad: "same", dataFormat: "NHWC", filterShape: [3, 3, 16, 32] },
    macs: 64 * 7 * 7 * 9 * 16 * 32,
    forward: conv2dForward(2, [3, 3, 16, 32]),
  },
  {
    name: "conv2d input grad x=[64,14,14,16] 3x3→32 same s1",
    kernel: tf.Conv2DBackpropInput,
    shapes: { dy: [64, 14, 14, 32], filter: [3, 3, 16, 32] },
    attrs: { strides: 1, pad: "same", dataFormat: "NHWC", inputShape: x },
    macs: 64 * 14 * 14 * 9 * 16 * 32,
    forward: conv2dForward(1, [3, 3, 16, 32]),
  },
  {
    name: "conv2d input grad x=[64,14,14,16] 3x3→32 same s2",
    kernel: tf.Conv2DBackpropInput,
    shapes: { dy: [64, 7, 7, 32], filter: [3, 3, 16, 32] },
    attrs: { strides: 2, pad: "same", dataFormat: "NHWC", inputShape: x },
    macs: 64 * 7 * 7 * 9 * 16 * 32,
    forward: conv2dForward(2, [3, 3, 16, 32]),
  },
  {
    name: "conv2d input grad x=[64,14,14,32] 1x1→64 valid s1",
    kernel: tf.Conv2DBackpropInput,
    shapes: { dy: [64, 14, 14, 64], filter: [1, 1, 32, 64] },
    attrs: { strides: 1, pad: "valid", dataFormat: "NHWC", inputShape: [64, 14, 14, 32] },
    macs: 64 * 14 * 14 * 32 * 64,
    forward: conv2dForward(1, [1, 1, 32, 64], [64, 14, 14, 32]),
  },
  {
    name: "depthwise filter grad x=[64,14,14,32] 3x3 m1 same s1",
    kernel: tf.DepthwiseConv2dNativeBackpropFilter,
    shapes: { x: [64, 14, 14, 32], dy: [64, 14, 14, 32] },
    attrs: { strides: 1, pad: "same", dilations: 1, filterShape: [3, 3, 32, 1] },
    macs: 64 * 14 * 14 * 9 * 32,
    forward: depthwiseForward([64, 14, 14, 32], 1, [3, 3, 32, 1]),
  },
  {
    name: "depthwise input grad x=[64,14,14,32] 3x3 m1 same s1",
    kernel: tf.DepthwiseConv2dNativeBackpropInput,
    shapes: { dy: [64, 14, 14, 32], filter: [3, 3, 32, 1] },
    attrs: { strides: 1, pad: "same", dilations: 1, inputShape: [64, 14, 14, 32] },
    macs: 64 * 14 * 14 * 9 * 32,
    forward: depthwiseForward([64, 14, 14, 32], 1, [3, 3, 32, 1]),
  },
  {
    name: "depthwise filter grad x=[64,28,28,16] 3x3 m2 same s2",
    kernel: tf.DepthwiseConv2dNativeBackpropFilter,
    shapes: { x: [64, 28, 28, 16], dy: [64, 14, 14, 32] },
    attrs: { strides: 2, pad: "same", dilations: 1, filterShape: [3, 3, 16, 2] },
    macs: 64 * 14 * 14 * 9 * 32,
    forward: depthwiseForward([64, 28, 28, 16], 2, [3, 3, 16, 2]),
  },
  {
    name: "depthwise input grad x=[64,28,28,16] 3x3 m2 same s2",
    kernel: tf.DepthwiseConv2dNativeBackpropInput,
    shapes: { dy: [64, 14, 14, 32], filter: [3, 3, 16, 2] },
    attrs: { strides: 2, pad: "same", dilations: 1, inputShape: [64, 28, 28, 16] },
    macs: 64 * 14 * 14 * 9 * 32,
    forward: depthwiseForward([64, 28, 28, 16], 2, [3, 3, 16, 2]),
  },
  {
    name: "max pool grad x=[128,28,28,16] 2x2 s2",
    kernel: tf.MaxPoolGrad,
    shapes: { dy: [128, 14, 14, 16], input: [128, 28, 28, 16], output: [128, 14, 14, 16] },
    attrs: { filterSize: 2, strides: 2, pad: "same" },
    // Comparisons, not multiply-adds: one per input of every window.
    macs: 128 * 14 * 14 * 16 * 4,
    forward: { kernel: tf.MaxPool, shapes: { x: [128, 28, 28, 16] }, attrs: { filterSize: 2, strides: 2, pad: "same", dimRoundingMode: undefined } },
  },
];

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} takes a positive integer`);
  return value;
}

function seededData(seed: number, size: number): Float32Array {
  let a = seed >>> 0;
  const v = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    v[i] = a / 2 ** 31 - 1;
  }
  return v;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

interface Measured {
  medianMs: number;
  output: Float32Array;
}

function seededInputs(c: KernelCall): Record<string, tf.Tensor> {
  const inputs: Record<string, tf.Tensor> = {};
  let seed = 1;
  for (const [key, shape] of Object.entries(c.shapes)) {
    inputs[key] = tf.tensor(seededData(seed++, shape.reduce((a, b) => a * b, 1)), shape);
  }
  return inputs;
}

/** Runs the kernel once; returns its wall time, and its values when `keep` is set. */
function timeOnce(c: KernelCall, inputs: Record<string, tf.Tensor>, keep: boolean): { ms: number; output?: Float32Array } {
  const t0 = performance.now();
  const result = tf.engine().runKernel(c.kernel, inputs, c.attrs as tf.NamedAttrMap) as tf.Tensor;
  const ms = performance.now() - t0;
  const output = keep ? (result.dataSync() as Float32Array) : undefined;
  result.dispose();
  return { ms, output };
}

async function measure(backend: "wasm" | "cpu", c: KernelCall, warmup: number, runs: number): Promise<Measured> {
  await tf.setBackend(backend);
  const inputs = seededInputs(c);
  const times: number[] = [];
  let output: Float32Array = new Float32Array(0);
  for (let i = 0; i < warmup + runs; i++) {
    const run = timeOnce(c, inputs, i === warmup + runs - 1);
    if (i >= warmup) times.push(run.ms);
    if (run.output) output = run.output;
  }
  tf.dispose(Object.values(inputs));
  return { medianMs: median(times), output };
}

function install(config: tf.KernelConfig): void {
  if (tf.getKernel(config.kernelName, config.backendName) === config) return;
  tf.unregisterKernel(config.kernelName, config.backendName);
  tf.registerKernel(config);
}

/** Times `c` on wasm with the registered kernel and with `other` in its place, alternating run by run. */
async function measureAgainst(c: KernelCall, other: tf.KernelConfig, warmup: number, runs: number): Promise<[Measured, Measured]> {
  await tf.setBackend("wasm");
  const registered = tf.getKernel(c.kernel, "wasm");
  if (registered === undefined) throw new Error(`no wasm kernel '${c.kernel}'`);
  const inputs = seededInputs(c);
  const times: [number[], number[]] = [[], []];
  const outputs: [Float32Array, Float32Array] = [new Float32Array(0), new Float32Array(0)];
  try {
    for (let i = 0; i < warmup + runs; i++) {
      for (const [k, config] of [registered, other].entries()) {
        install(config);
        const run = timeOnce(c, inputs, i === warmup + runs - 1);
        if (i >= warmup) times[k]!.push(run.ms);
        if (run.output) outputs[k] = run.output;
      }
    }
  } finally {
    install(registered);
    tf.dispose(Object.values(inputs));
  }
  return [
    { medianMs: median(times[0]), output: outputs[0] },
    { medianMs: median(times[1]), output: outputs[1] },
  ];
}

function relativeError(actual: Float32Array, expected: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return diff / Math.max(scale, 1e-30);
}

async function main(): Promise<void> {
  const json = process.argv.includes("--json");
  const runs = option("--runs", 9);
  const cpuRuns = option("--cpu-runs", 3);
  // Initialise first, so that the built-in kernels we replace have had their setup and can be timed.
  if (!(await tf.setBackend("wasm"))) throw new Error("the wasm backend failed to initialise");
  const builtins = new Map<string, tf.KernelConfig>();
  for (const config of wasmKernelReplacements) {
    const builtin = tf.getKernel(config.kernelName, "wasm");
    if (builtin !== undefined && builtin !== config) builtins.set(config.kernelName, builtin);
  }
  registerWasmGradientKernels();

  const results = [];
  for (const c of CASES) {
    const builtin = builtins.get(c.kernel);
    const [wasm, wasmBuiltin] = builtin ? await measureAgainst(c, builtin, 2, runs) : [await measure("wasm", c, 2, runs)];
    const forward = await measure("wasm", c.forward, 2, runs);
    const cpu = await measure("cpu", c, 0, cpuRuns);
    const row = {
      name: c.name,
      kernel: c.kernel,
      wasmMs: Number(wasm.medianMs.toFixed(3)),
      cpuMs: Number(cpu.medianMs.toFixed(1)),
      speedup: Number((cpu.medianMs / wasm.medianMs).toFixed(1)),
      wasmGflops: Number(((2 * c.macs) / wasm.medianMs / 1e6).toFixed(2)),
      forwardWasmMs: Number(forward.medianMs.toFixed(3)),
      vsForward: Number((wasm.medianMs / forward.medianMs).toFixed(2)),
      relativeError: Number(relativeError(wasm.output, cpu.output).toExponential(2)),
      ...(wasmBuiltin
        ? {
            builtinWasmMs: Number(wasmBuiltin.medianMs.toFixed(3)),
            builtinOverOurs: Number((wasmBuiltin.medianMs / wasm.medianMs).toFixed(1)),
            builtinRelativeError: Number(relativeError(wasmBuiltin.output, cpu.output).toExponential(2)),
          }
        : {}),
    };
    results.push(row);
    const versusBuiltin = row.builtinWasmMs === undefined
      ? ""
      : `   wasm built-in ${row.builtinWasmMs.toFixed(2)} ms (built-in/ours ${row.builtinOverOurs})`;
    console.log(
      `${row.name.padEnd(54)} wasm ${row.wasmMs.toFixed(2).padStart(7)} ms (${row.wasmGflops} GFLOP/s, ` +
        `${row.vsForward}× forward)   cpu ${row.cpuMs.toFixed(0).padStart(6)} ms   cpu/wasm ${row.speedup}   rel.err ${row.relativeError}` +
        versusBuiltin,
    );
  }
  if (json) {
    console.log(
      JSON.stringify({
        bench: "wasm-gradient-kernels",
        tfjs: tf.version.tfjs,
        wasmRuns: runs,
        cpuRuns,
        simd: tf.env().getBool("WASM_HAS_SIMD_SUPPORT"),
        threads: tf.env().getBool("WASM_HAS_MULTITHREAD_SUPPORT"),
        cases: results,
      }),
    );
  }
}

await main();
