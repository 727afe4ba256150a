/**
 * The in-process baseline of the serving benchmarks, run as its own process (pinned to the
 * server's core by the caller): onnxruntime with one intra-op thread runs the given batches, as
 * many of each size as the server ran, and prints the seconds they took (tensor creation and
 * output read included).
 *
 *   node --import tsx bench/ortReplay.ts MODEL.onnx '{"32": 120, "31": 4}'
 */
import * as ort from "onnxruntime-node";

const [model, batchesJson] = process.argv.slice(2);
const batches = Object.entries(JSON.parse(batchesJson!) as Record<string, number>).map(([size, n]) => [Number(size), n] as const);
const session = await ort.InferenceSession.create(model!, { graphOptimizationLevel: "all", intraOpNumThreads: 1, extra: { session: { intra_op: { allow_spinning: "0" } } } });
const input = session.inputNames[0]!;
const largest = Math.max(1, ...batches.map(([size]) => size));
const PIXELS = 28 * 28;
const images = new Uint8Array(largest * PIXELS).map((_, i) => (i * 2654435761) >>> 24);
const run = async (n: number) => {
  const out = await session.run({ [input]: new ort.Tensor("uint8", images.slice(0, n * PIXELS), [n, 28, 28, 1]) });
  return (Object.values(out)[0]!.data as Float32Array)[0];
};
for (let i = 0; i < 5; i++) await run(largest);
const t = performance.now();
let samples = 0;
for (const [size, n] of batches) {
  for (let i = 0; i < n; i++) await run(size);
  samples += size * n;
}
const seconds = (performance.now() - t) / 1000;
await session.release();
console.log(JSON.stringify({ seconds, samples }));
