/**
 * The deferral model's ONNX file (src/codegen/onnx/defer.ts) against its reference forward pass
 * (writeFeatures + deferScore in src/format/defer.ts): logistic regression and an MLP over one exit,
 * two exits of different widths and a one-output exit, with seeded random weights, run by
 * onnxruntime on fresh seeded probabilities (a zero probability, a one-hot row and a tie for the top
 * included). Every file also goes through the official ONNX checker when it is installed.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import { decodeModel, emitDeferralOnnx, IR_VERSION, OPSET } from "../src/codegen/onnx/index.js";
import type { ValueInfoProto } from "../src/codegen/onnx/proto.js";
import { deferScore, featureCount, writeFeatures, type DeferralModel } from "../src/format/defer.js";
import { mulberry32, type Rng } from "../src/runtime/train/data/rng.js";

const PYTHON = "/usr/bin/python3";
const HAS_ONNX = spawnSync(PYTHON, ["-c", "import onnx"]).status === 0;
if (!HAS_ONNX) console.warn(`SKIPPED: the official ONNX checker tests need ${PYTHON} with the onnx package (apt-get install -y python3-onnx)`);

const tmp = mkdtempSync(join(tmpdir(), "meanet-defer-onnx-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const BATCH = 64;
const TOLERANCE = 1e-5;

/** A deferral model over exits of these widths, with weights drawn from a seeded RNG. */
function randomModel(widths: number[], hidden: number, seed: number): DeferralModel {
  const rng = mulberry32(seed);
  const f = featureCount(widths);
  const draw = (n: number, scale: number) => Array.from({ length: n }, () => (rng() - 0.5) * scale);
  return {
    format: "meanet-deferral",
    exits: widths.map((k, i) => ({ name: `exit${i}`, k })),
    hidden,
    w1: draw(hidden === 0 ? f : f * hidden, 3),
    b1: draw(hidden === 0 ? 1 : hidden, 1),
    w2: draw(hidden, 3),
    b2: draw(hidden === 0 ? 0 : 1, 1),
    training: { stage: "test", seed, epochs: 0, samples: 0, positives: 0, rows: { from: 0, to: 0, of: 0 }, finalLoss: 0 },
  };
}

function softmax(logits: number[]): number[] {
  const top = Math.max(...logits);
  const e = logits.map((z) => Math.exp(z - top));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/**
 * `rows` samples of an exit of k outputs: softmax of random logits at random temperatures, with row 0
 * holding an exact zero, row 1 one-hot and row 2 a tie for the top. A one-output exit's softmax is
 * always 1, so its rows are random values in [0, 1] (0 and 1 among them), which the graph takes alike.
 */
function probabilities(k: number, rows: number, rng: Rng): Float32Array {
  const out = new Float32Array(k * rows);
  for (let r = 0; r < rows; r++) {
    let p: number[];
    if (k === 1) p = [r === 0 ? 0 : r === 1 ? 1 : rng()];
    else if (r === 1) {
      const hot = Math.floor(rng() * k);
      p = Array.from({ length: k }, (_, i) => (i === hot ? 1 : 0));
    } else {
      const scale = 0.5 + rng() * 8;
      const logits = Array.from({ length: k }, () => (rng() - 0.5) * scale);
      if (r === 0) logits[k - 1] = -Infinity;
      if (r === 2) logits[1] = logits[0] = Math.max(...logits) + 1;
      p = softmax(logits);
    }
    out.set(p, r * k);
  }
  return out;
}

async function runOnnx(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: "all", intraOpNumThreads: 1 });
  const out = (await s.run(feeds))["defer"]!.data as Float32Array;
  await s.release();
  return out;
}

/** deferScore of each row, from the features writeFeatures writes. */
function reference(model: DeferralModel, probs: Float32Array[], rows: number): number[] {
  const features = new Float64Array(featureCount(model.exits.map((x) => x.k)));
  return Array.from({ length: rows }, (_, r) => {
    writeFeatures(model.exits.map((x, i) => ({ data: probs[i]!, offset: r * x.k, k: x.k })), features);
    return deferScore(model, features);
  });
}

const CASES: { label: string; widths: number[] }[] = [
  { label: "one exit of 10 outputs", widths: [10] },
  { label: "two exits of 10 and 5 outputs", widths: [10, 5] },
  { label: "one exit of 1 output", widths: [1] },
];

/** A case's model, its input names and its file. */
function emitCase(c: number, widths: number[], hidden: number) {
  const seed = 100 + 10 * c + hidden;
  const model = randomModel(widths, hidden, seed);
  const names = widths.map((_, i) => ({ name: `exit${i}.probs` }));
  const bytes = emitDeferralOnnx(model, names, { producer: "test", docString: "deferral onnx test" });
  return { seed, model, names, bytes };
}

describe("deferral model as ONNX", () => {
  for (const [c, { label, widths }] of CASES.entries()) {
    for (const hidden of [0, 8]) {
      it(`matches deferScore(writeFeatures) per row: ${label}, hidden ${hidden}`, async () => {
        const { seed, model, names, bytes } = emitCase(c, widths, hidden);
        const rng = mulberry32(seed + 1);
        const probs = widths.map((k) => probabilities(k, BATCH, rng));
        const feeds = Object.fromEntries(names.map(({ name }, i) => [name, new ort.Tensor("float32", probs[i]!, [BATCH, widths[i]!])]));
        const got = await runOnnx(bytes, feeds);
        const want = reference(model, probs, BATCH);
        expect(got.length).toBe(BATCH);
        const diff = Math.max(...want.map((w, r) => Math.abs(w - got[r]!)));
        expect(diff).toBeLessThanOrEqual(TOLERANCE);
        // The scores spread: a graph that ignored its inputs would not pass.
        expect(Math.max(...want) - Math.min(...want)).toBeGreaterThan(0.01);
      });
    }
  }

  it("declares its inputs, output, opset and producer", () => {
    const model = randomModel([10, 5], 8, 7);
    const m = decodeModel(emitDeferralOnnx(model, [{ name: "a.probs" }, { name: "b.probs" }], { producer: "1.2.3" }));
    const dims = (v: ValueInfoProto) => v.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue));
    expect(m.graph!.input!.map((v) => [v.name, dims(v)])).toEqual([
      ["a.probs", ["N", 10]],
      ["b.probs", ["N", 5]],
    ]);
    expect(m.graph!.output!.map((v) => [v.name, dims(v)])).toEqual([["defer", ["N", 1]]]);
    expect(Number(m.irVersion)).toBe(IR_VERSION);
    expect(m.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([["", OPSET]]);
    expect([m.producerName, m.producerVersion]).toEqual(["meanet", "1.2.3"]);
  });

  it("refuses input names that do not match the exits, and malformed weights", () => {
    const model = randomModel([10, 5], 0, 3);
    expect(() => emitDeferralOnnx(model, [{ name: "a.probs" }], { producer: "test" })).toThrow(/2 exits but 1 input names/);
    expect(() => emitDeferralOnnx({ ...model, w1: model.w1.slice(1) }, [{ name: "a" }, { name: "b" }], { producer: "test" })).toThrow(/`w1` should hold/);
  });

  it.skipIf(!HAS_ONNX)("every emitted file passes the official ONNX checker (full_check) and strict shape inference", () => {
    const emitted = [...CASES.entries()].flatMap(([c, { widths }]) =>
      [0, 8].map((hidden) => {
        const file = join(tmp, `defer_${widths.join("_")}_h${hidden}.onnx`);
        writeFileSync(file, emitCase(c, widths, hidden).bytes);
        return file;
      }),
    );
    const r = spawnSync(PYTHON, ["test/helpers/check_onnx.py", ...emitted], { encoding: "utf8" });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });
});
