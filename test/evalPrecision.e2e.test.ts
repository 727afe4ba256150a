/**
 * `meanet eval` on an int8 export: the comparison of the shipped files with their float32
 * references. The e2e tests' trained fixture (test/helpers/trained.ts) is compiled with its cloud
 * threshold calibrated (`calibrate(cloud_fraction: 0.2)`), exported (int8 edge files with float32
 * references beside them) and evaluated. The reference figures are checked against the reference
 * files run here directly in onnxruntime, and the calibrated threshold is shown to come from the
 * shipped files' validation outputs, not the references'.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EvalReport } from "../src/format/eval.js";
import type { Manifest } from "../src/format/manifest.js";
import type { IrJson } from "../src/format/ir.js";
import { entropy } from "../src/format/measures.js";
import { classIdsOf } from "../src/format/exits.js";
import { hardClassIds } from "../src/format/hardClasses.js";
import { loadTestSamples } from "../src/runtime/infer/index.js";
import { loadValidation } from "../src/runtime/train/data/validation.js";
import { candidateThresholds } from "../src/runtime/eval/thresholds.js";
import type { ExitOutputs } from "../src/runtime/eval/outputs.js";
import { copyTrainedBuild, trainedFixture } from "./helpers/trained.js";
import { withoutDeferral } from "./helpers/buildSpec.js";

const tmp = mkdtempSync(join(tmpdir(), "meanet-eval-precision-"));
const spec = join(tmp, "fm.meanet");
const out = join(tmp, "build");
const dir = join(out, "fashion_mnist");
const LIMIT = 3000;

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ["bin/meanet.js", ...args], { encoding: "utf8" });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

let report: EvalReport;
let manifest: Manifest;
let ir: IrJson;

type Partition = NonNullable<Manifest["export"]>["partitions"][number];

/** Every exit's probabilities from the chain of files, `pick` naming the file run for each partition; in batches. */
async function runFiles(pick: (p: Partition) => string, images: Uint8Array, count: number): Promise<Map<string, Float32Array>> {
  const parts = manifest.export!.partitions;
  const sessions = await Promise.all(parts.map((p) => ort.InferenceSession.create(join(dir, pick(p)))));
  const probs = new Map(parts.flatMap((p) => p.outputs.filter((o) => o.exit).map((o) => [o.exit!, new Float32Array(count * o.shape[0]!)] as const)));
  const size = ir.input.shape.reduce((a, b) => a * b, 1);
  try {
    for (let start = 0; start < count; start += 1000) {
      const n = Math.min(1000, count - start);
      const values = new Map<string, ort.Tensor>([[ir.input.name, new ort.Tensor("uint8", images.subarray(start * size, (start + n) * size), [n, ...ir.input.shape])]]);
      for (let i = 0; i < parts.length; i++) {
        const result = await sessions[i]!.run(Object.fromEntries(parts[i]!.inputs.map((io) => [io.name, values.get(io.name)!])));
        for (const o of parts[i]!.outputs) {
          if (o.exit) probs.get(o.exit)!.set(result[o.name]!.data as Float32Array, start * o.shape[0]!);
          else values.set(o.name, result[o.name]!);
        }
      }
    }
  } finally {
    for (const s of sessions) await s.release();
  }
  return probs;
}

const argmax = (p: Float32Array, row: number, k: number) => {
  let best = 0;
  for (let c = 1; c < k; c++) if (p[row * k + c]! > p[row * k + best]!) best = c;
  return best;
};

beforeAll(() => {
  const trained = readFileSync(trainedFixture().spec, "utf8");
  // The paper's entropy rule, calibrated: the threshold can then be checked against entropies computed here.
  const source = withoutDeferral(trained).replace("cloud when entropy(main) > 0.8", "cloud when entropy(main) > calibrate(cloud_fraction: 0.2)");
  expect(source).not.toBe(trained);
  writeFileSync(spec, source);
  expect(copyTrainedBuild(out)).toBe(dir);
  const c = cli("compile", spec, "-o", out);
  expect(c.status, c.err).toBe(0);
  const e = cli("export", dir);
  expect(e.status, e.err).toBe(0);
  const r = cli("eval", dir, "--json", "--report-only", "--limit", String(LIMIT));
  expect(r.status, r.err).toBe(0);
  report = JSON.parse(r.out.trim().split("\n").pop()!) as EvalReport;
  manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as Manifest;
  ir = JSON.parse(readFileSync(join(dir, "ir.json"), "utf8")) as IrJson;
}, 1_200_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("meanet eval: shipped int8 files against their float32 references", () => {
  it("reports the comparison for the int8 edge files, with agreement in [0, 1]", () => {
    const p = report.precision!;
    expect(p).toBeDefined();
    expect(p.files).toEqual([
      { path: "edge/main.onnx", device: "edge", precision: "int8", reference: "edge/reference/main.onnx" },
      { path: "edge/extension.onnx", device: "edge", precision: "int8", reference: "edge/reference/extension.onnx" },
    ]);
    expect(p.exits.map((x) => [x.exit, x.file, x.precision, x.reference])).toEqual([
      ["main", "edge/main.onnx", "int8", "edge/reference/main.onnx"],
      ["extension", "edge/extension.onnx", "int8", "edge/reference/extension.onnx"],
      ["cloud", "cloud/model.onnx", "fp32", null],
    ]);
    for (const x of p.exits) {
      expect(x.agreement).toBeGreaterThanOrEqual(0);
      expect(x.agreement).toBeLessThanOrEqual(1);
    }
    for (const v of [p.routed.sameExit, p.routed.agreement]) expect(v >= 0 && v <= 1).toBe(true);
    // The cloud file ships as its float form: the reference system runs it as it ships.
    expect(p.exits.find((x) => x.exit === "cloud")!.agreement).toBe(1);
  });

  it("gives, for the shipped side, the figures of the routed system and of each exit on its own", () => {
    const p = report.precision!;
    expect(p.routed.shipped.accuracy).toBe(report.routed.accuracy);
    expect(p.routed.shipped.fractions).toEqual(report.routed.fractions);
    expect(p.routed.shipped.cloudFraction).toBe(report.routed.fractions.cloud);
    for (const x of p.exits) expect(x.accuracy.shipped).toBe(report.exitStandalone.find((s) => s.exit === x.exit)!.accuracy);
    // The same cloud fraction, as near as the images allow.
    expect(Math.abs(p.routed.referenceAtCloudFraction!.cloudFraction - p.routed.shipped.cloudFraction)).toBeLessThanOrEqual(1 / LIMIT);
    expect(p.routed.referenceAtCloudFraction!.condition).toBe("entropy(main) > t");
  });

  it("measures the reference side as the reference files give it, run directly in onnxruntime", async () => {
    const test = loadTestSamples(manifest, undefined, LIMIT);
    const images = test.images as Uint8Array;
    const reference = await runFiles((p) => p.reference ?? p.path, images, test.count);
    const shipped = await runFiles((p) => p.path, images, test.count);
    const hard = hardClassIds(manifest);
    for (const x of report.precision!.exits) {
      const exit = manifest.exits.find((e) => e.name === x.exit)!;
      const classIds = classIdsOf(manifest.labels, exit.classes as never, hard);
      const k = classIds.length;
      let [samples, right, agree, agreeOwn] = [0, 0, 0, 0];
      for (let r = 0; r < test.count; r++) {
        const b = argmax(reference.get(x.exit)!, r, k);
        const same = argmax(shipped.get(x.exit)!, r, k) === b;
        if (same) agree++;
        if (!classIds.includes(test.labels[r]!)) continue;
        samples++;
        if (same) agreeOwn++;
        if (classIds[b] === test.labels[r]) right++;
      }
      expect(x.samples, x.exit).toBe(samples);
      expect(x.accuracy.reference, x.exit).toBe(Number((right / samples).toFixed(4)));
      expect(x.agreement, x.exit).toBe(Number((agree / test.count).toFixed(6)));
      // The extension's own inputs are the hard-class images, fewer than all.
      expect(x.agreementOnClasses, x.exit).toBe(Number((agreeOwn / samples).toFixed(6)));
      if (x.exit === "extension") expect(samples).toBeLessThan(test.count);
    }
  });

  it("calibrates the threshold on the shipped files' validation outputs, not the references'", async () => {
    const c = report.calibration[0]!;
    expect(c.condition).toBe("entropy(main) > t");
    const v = loadValidation({ dir, ir, manifest } as never, undefined, () => {});
    const entropies = async (pick: (p: Partition) => string) => {
      const probs = (await runFiles(pick, v.images as Uint8Array, v.count)).get("main")!;
      return (r: number) => entropy(probs, r * 10, 10);
    };
    const shipped = await entropies((p) => p.path);
    const reference = await entropies((p) => p.reference ?? p.path);
    // The chosen threshold is one of the candidates cut from the shipped entropies (eval's 256 steps) …
    const near = (t: number, list: number[]) => list.some((x) => Math.abs(x - t) <= 1e-7 * Math.max(1, Math.abs(t)));
    const table = { n: v.count } as ExitOutputs;
    expect(near(c.threshold, candidateThresholds(table, shipped, 256))).toBe(true);
    expect(near(c.threshold, candidateThresholds(table, reference, 256))).toBe(false);
    // … and sends to the cloud the validation fraction eval reports, on the shipped outputs.
    let sent = 0;
    for (let r = 0; r < v.count; r++) if (shipped(r) > c.threshold) sent++;
    expect(Number((sent / v.count).toFixed(6))).toBe(c.validation.value);
  });

  it("prices edge MACs at the precision the edge files ship at, and says so in the text and report.html", () => {
    const { costModel } = report;
    expect(costModel.edge.precision).toBe("int8");
    expect(costModel.edge.energyPerMacJ).toBe(ir.devices.edge.energyPerMacJ);
    expect(costModel.files).toEqual(manifest.export!.partitions.map((p) => ({ path: p.path, device: p.device, precision: p.precision, weightBytes: p.weightBytes })));
    expect(costModel.files.filter((f) => f.device === "edge").every((f) => f.precision === costModel.edge.precision)).toBe(true);
    const html = readFileSync(join(dir, "report.html"), "utf8");
    expect(html).toContain('<section id="precision">');
    expect(html).toContain("<h2>Shipped (int8) vs float32 reference</h2>");
    expect(html).toContain("The edge&#x27;s energy per MAC, 0.23 pJ, is that of int8 MACs, the precision the edge&#x27;s files ship at (edge/main.onnx, edge/extension.onnx).");
    const text = cli("eval", dir, "--report-only", "--limit", "300");
    expect(text.status, text.err).toBe(0);
    expect(text.out).toContain("edge energy per MAC 0.23 pJ: that of int8 MACs, the precision the edge's files ship at (edge/main.onnx, edge/extension.onnx)");
    expect(text.out).toContain("shipped (int8) vs float32 reference on the same test images: edge/reference/main.onnx in place of edge/main.onnx, edge/reference/extension.onnx in place of edge/extension.onnx");
    expect(text.out).toMatch(/\nrouted, float32 reference, same thresholds +\d+\.\d\d%/);
  });
});
