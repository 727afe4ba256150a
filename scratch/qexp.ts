import { readFileSync, writeFileSync } from "node:fs";
import * as ort from "onnxruntime-node";
import { decodeModel } from "../src/codegen/onnx/proto.js";
import { observeModel, quantizationPlan, quantizeModel } from "../src/codegen/onnx/quantize.js";
import type { ValueRange } from "../src/format/quantize.js";
import { loadSplit, locateDataset } from "../src/runtime/train/data/locate.js";
import { take } from "../src/runtime/train/data/dataset.js";

const file = process.argv[2]!;
const bytes = new Uint8Array(readFileSync(file));
const plan = quantizationPlan(decodeModel(bytes));
console.log("sites", plan.sites.map((s) => `${s.value}${s.folds ? "→" + s.output : ""}[${s.rangeOf}]`).join("\n  "));
const located = locateDataset("fashion-mnist", "/usr/share/datasets/fashion-mnist");
const train = take(loadSplit(located, "train"), 512);
const test = loadSplit(located, "test");
const opts = { intraOpNumThreads: 1, graphOptimizationLevel: "all" as const };
const obs = await ort.InferenceSession.create(observeModel(bytes, plan.observe), opts);
const ranges = new Map<string, ValueRange>();
const r = await obs.run({ image: new ort.Tensor("uint8", train.images, [512, 28, 28, 1]) });
for (const n of plan.observe) {
  const d = r[n]!.data as Float32Array;
  let min = Infinity, max = -Infinity;
  for (const v of d) { if (v < min) min = v; if (v > max) max = v; }
  ranges.set(n, { min, max });
}
const q = quantizeModel(bytes, ranges);
writeFileSync("/tmp/q/main.int8.onnx", q);
console.log("bytes", bytes.length, "→", q.length);
const s32 = await ort.InferenceSession.create(bytes, opts);
const s8 = await ort.InferenceSession.create(q, { ...opts, optimizedModelFilePath: "/tmp/q/main.int8.opt.onnx" });
const feed = { image: new ort.Tensor("uint8", test.images, [test.count, 28, 28, 1]) };
const a = (await s32.run(feed)).probs_main!.data as Float32Array;
const b = (await s8.run(feed)).probs_main!.data as Float32Array;
let agree = 0, c32 = 0, c8 = 0;
const am = (x: Float32Array, i: number) => { let k = 0; for (let j = 1; j < 10; j++) if (x[i * 10 + j]! > x[i * 10 + k]!) k = j; return k; };
for (let i = 0; i < test.count; i++) { const p = am(a, i), p8 = am(b, i); if (p === p8) agree++; if (p === test.labels[i]) c32++; if (p8 === test.labels[i]) c8++; }
console.log({ agree: agree / test.count, acc32: c32 / test.count, acc8: c8 / test.count });
const opt = decodeModel(new Uint8Array(readFileSync("/tmp/q/main.int8.opt.onnx")));
console.log("optimized ops:", opt.graph!.node!.map((n) => n.opType).join(" "));
