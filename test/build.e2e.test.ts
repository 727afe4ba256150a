/**
 * `meanet build` end to end on a short Fashion-MNIST training (the example's network, one epoch
 * per stage, 3,000 training images): which stages run and which are reused as the spec changes,
 * the gates, and the stage keys in manifest.json. The reuse decisions and the training key are
 * also checked directly, without training, in test/build.test.ts.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { STAGE_CODE, type BuildSummary, type StageStatus } from "../src/toolchain/build.js";
import { keyOf, STAGES } from "../src/toolchain/buildStages.js";
import { CODE_ROOTS, toolKey } from "../src/toolchain/toolKey.js";
import type { Manifest } from "../src/format/manifest.js";
import { decodeModel, onnx } from "../src/codegen/onnx/proto.js";
import { replaced, SPEC } from "./helpers/buildSpec.js";
import { sha256 } from "../src/format/hash.js";

const tmp = mkdtempSync(join(tmpdir(), "meanet-build-"));
const out = join(tmp, "build");
const dir = join(out, "fashion_mnist");
const specFile = join(tmp, "spec.meanet");
const FLAGS = ["--limit-train", "3000", "--limit-test", "100", "--backend", "wasm"];
/** The tests whose build trains say how long it may take, above the e2e tier's default. */
const TRAINING_TIMEOUT_MS = 600_000;

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type Statuses = Record<string, StageStatus>;

/** Runs `meanet build --json` on `spec`, always written to the same file. */
function build(spec: string, ...extra: string[]) {
  writeFileSync(specFile, spec);
  const r = spawnSync(process.execPath, ["bin/meanet.js", "build", specFile, "-o", out, ...FLAGS, "--json", ...extra], { encoding: "utf8" });
  const last = r.stdout.trim().split("\n").pop() ?? "";
  let summary: BuildSummary;
  try {
    summary = JSON.parse(last) as BuildSummary;
  } catch {
    throw new Error(`meanet build exited with ${r.status} without a JSON summary line:\n${r.stdout}\n${r.stderr}`);
  }
  const statuses = Object.fromEntries(Object.entries(summary.stages).map(([k, v]) => [k, v.status])) as Statuses;
  return { status: r.status, err: r.stderr, summary, statuses };
}

const manifest = () => JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as Manifest;
const mtime = (path: string) => statSync(join(dir, path)).mtimeMs;
const all = (s: StageStatus): Statuses => ({ compile: s, train: s, export: s, verify: s, eval: s });

describe("meanet build", () => {
  it("runs every stage the first time and records each stage's key in manifest.json", () => {
    const r = build(SPEC);
    expect(r.status, r.err).toBe(0);
    expect(r.statuses).toEqual(all("ran"));
    expect(r.summary.ok).toBe(true);
    expect(r.summary.eval!.samples).toBe(100);
    expect(r.summary.eval!.assertions).toEqual([expect.objectContaining({ text: "accuracy >= 0.2", status: "passed" })]);
    const m = manifest();
    expect(Object.keys(m.stages!)).toEqual(["compile", "train", "export", "verify", "eval"]);
    for (const record of Object.values(m.stages!)) expect(record!.key).toBe(keyOf(record!.inputs));
    // The build ran from dist/; the same code read from src/ gives the same keys.
    for (const stage of STAGES) expect(m.stages![stage]!.inputs.tool, stage).toBe(toolKey(STAGE_CODE[stage]));
    // Every file a stage recorded is listed in the manifest with the same sha256.
    const listed = new Map(m.artifacts.map((a) => [a.path, a.sha256]));
    for (const record of Object.values(m.stages!)) for (const [path, sha] of Object.entries(record!.outputs)) expect(listed.get(path), path).toBe(sha);
    expect(Object.keys(m.stages!.train!.outputs)).toContain("weights/cloud/weights.bin");
    // The example's cloud rule reads defer(main, extension): its model is trained, listed and exported.
    expect(Object.keys(m.stages!.train!.outputs)).toContain("weights/defer.json");
    expect(Object.keys(m.stages!.export!.outputs)).toContain("edge/extension.onnx");
    expect(Object.keys(m.stages!.export!.outputs)).toContain("edge/defer.onnx");
    expect(Object.keys(m.stages!.eval!.outputs).sort()).toEqual(["eval.json", "report.html"]);
    expect(r.err).toMatch(/^train {3}ran in [\d.]+ s \(no earlier run\): 4 stages on 2,700 images/m);
  }, TRAINING_TIMEOUT_MS);

  it("a second build of the unchanged spec reuses every stage and writes nothing", () => {
    const before = readFileSync(join(dir, "manifest.json"), "utf8");
    const weights = mtime("weights/main/weights.bin");
    const r = build(SPEC);
    expect(r.status, r.err).toBe(0);
    expect(r.statuses).toEqual(all("reused"));
    expect(r.err.match(/reused \(inputs unchanged\)/g)).toHaveLength(5);
    expect(r.err).toMatch(/build fashion_mnist: 0 stages ran, 5 reused/);
    expect(readFileSync(join(dir, "manifest.json"), "utf8")).toBe(before);
    expect(mtime("weights/main/weights.bin")).toBe(weights);
    // The eval figures of a reused build come from eval.json.
    expect(r.summary.eval!.samples).toBe(100);
  });

  const SPEC_THRESHOLD = replaced(replaced(SPEC, "defer(main, extension) > 0.15", "defer(main, extension) > 0.2"), "assert accuracy >= 0.2", "assert accuracy >= 0.25");

  it("changing the cloud rule's threshold and an assertion does not retrain; compile and the stages after training run again", () => {
    const weights = mtime("weights/main/weights.bin");
    const r = build(SPEC_THRESHOLD);
    expect(r.status, r.err).toBe(0);
    expect(r.statuses).toEqual({ compile: "ran", train: "reused", export: "ran", verify: "ran", eval: "ran" });
    expect(r.summary.stages.compile.reason).toBe("changed: spec");
    expect(mtime("weights/main/weights.bin")).toBe(weights);
    expect((JSON.parse(readFileSync(join(dir, "eval.json"), "utf8")) as { rule: string[] }).rule[0]).toBe("cloud when defer(main, extension) > 0.2");
    expect(r.summary.eval!.assertions[0]!.text).toBe("accuracy >= 0.25");
  });

  it("a failing evaluation assertion exits 1 at its file:line:col and records no key for eval", () => {
    const failing = SPEC_THRESHOLD + "assert accuracy >= 0.999\n";
    const line = failing.split("\n").indexOf("assert accuracy >= 0.999") + 1;
    const r = build(failing);
    expect(r.status, r.err).toBe(1);
    expect(r.statuses).toEqual({ compile: "ran", train: "reused", export: "ran", verify: "ran", eval: "failed" });
    expect(r.err).toContain(`${specFile}:${line}:1: error MN4004: assertion failed: \`accuracy >= 0.999\``);
    expect(r.err).toMatch(/build fashion_mnist FAILED at eval/);
    expect(r.summary).toMatchObject({ ok: false, failed: "eval" });
    expect(r.summary.eval!.assertions.find((a) => a.text === "accuracy >= 0.999")).toMatchObject({ status: "failed", loc: `${specFile}:${line}:1` });
    expect(manifest().stages!.eval).toBeUndefined();
    // Nothing recorded, so the gate holds on the next build too.
    const again = build(failing);
    expect(again.status).toBe(1);
    expect(again.statuses).toEqual({ compile: "reused", train: "reused", export: "reused", verify: "reused", eval: "failed" });
    expect(again.summary.stages.eval.reason).toBe("no earlier run");
  });

  it("a spec with errors exits 1 with located diagnostics and leaves the build as it was", () => {
    const before = readFileSync(join(dir, "manifest.json"), "utf8");
    const broken = replaced(SPEC_THRESHOLD, "x = basic_block(x, 64)", "x = basic_blok(x, 64)");
    const line = broken.split("\n").findIndex((l) => l.includes("basic_blok")) + 1;
    const r = build(broken);
    expect(r.status).toBe(1);
    expect(r.err).toMatch(new RegExp(`${specFile.replace(/[.]/g, "\\.")}:${line}:\\d+: error MN2\\d{3}`));
    expect(r.statuses).toEqual({ compile: "failed", train: "skipped", export: "skipped", verify: "skipped", eval: "skipped" });
    expect(readFileSync(join(dir, "manifest.json"), "utf8")).toBe(before);
  });

  it("a missing output reruns its stage; later stages whose inputs hash the same are reused", () => {
    expect(build(SPEC_THRESHOLD).status).toBe(0);
    rmSync(join(dir, "edge/extension.onnx"));
    const r = build(SPEC_THRESHOLD);
    expect(r.status, r.err).toBe(0);
    expect(r.statuses).toEqual({ compile: "reused", train: "reused", export: "ran", verify: "reused", eval: "reused" });
    expect(r.summary.stages.export.reason).toBe("edge/extension.onnx is missing");
    expect(statSync(join(dir, "edge/extension.onnx")).size).toBeGreaterThan(0);
  });

  it("changing one training stage's epochs retrains and reruns everything after it", () => {
    const trainKey = manifest().stages!.train!.key;
    const longer = replaced(SPEC_THRESHOLD, /(stage cloud \{[^}]*epochs: )1/, "$12");
    const r = build(longer);
    expect(r.status, r.err).toBe(0);
    expect(r.statuses).toEqual(all("ran"));
    expect(r.summary.stages.train.reason).toBe("changed: model");
    expect(r.err).toMatch(/cloud epoch 2\/2/);
    expect(manifest().stages!.train!.key).not.toBe(trainKey);
  }, TRAINING_TIMEOUT_MS);

  it("--force runs every stage, and training starts over rather than from its checkpoint", () => {
    const longer = replaced(SPEC_THRESHOLD, /(stage cloud \{[^}]*epochs: )1/, "$12");
    const r = build(longer, "--force");
    expect(r.status, r.err).toBe(0);
    expect(r.statuses).toEqual(all("ran"));
    for (const s of Object.values(r.summary.stages)) expect(s.reason).toBe("--force");
    expect(r.err).toMatch(/main epoch 1\/1/);
    expect(r.err).not.toMatch(/resuming from checkpoint/);
  }, TRAINING_TIMEOUT_MS);

  it("exported outputs that differ from tfjs stop the build at verify, each named, and the next build checks again", () => {
    const longer = replaced(SPEC_THRESHOLD, /(stage cloud \{[^}]*epochs: )1/, "$12");
    // Every weight of the float32 reference of edge/main.onnx (the file tfjs is compared with) scaled
    // by 1.5, and the manifest made to agree with the file, so that export is reused and only verify can notice.
    const file = "edge/reference/main.onnx";
    const path = join(dir, file);
    const model = decodeModel(readFileSync(path));
    let scaled = 0;
    for (const t of model.graph!.initializer!) {
      if (t.dataType !== 1 || !t.rawData?.length) continue;
      const raw = Uint8Array.from(t.rawData);
      const values = new Float32Array(raw.buffer, 0, raw.length / 4);
      for (let i = 0; i < values.length; i++) values[i] *= 1.5;
      t.rawData = raw;
      scaled += values.length;
    }
    expect(scaled).toBeGreaterThan(1000);
    const bytes = onnx.ModelProto.encode(model).finish();
    writeFileSync(path, bytes);
    const sha = sha256(bytes);
    const m = manifest();
    m.artifacts = m.artifacts.map((a) => (a.path === file ? { ...a, sha256: sha } : a));
    m.stages!.export!.outputs[file] = sha;
    writeFileSync(join(dir, "manifest.json"), JSON.stringify(m, null, 2) + "\n");

    const r = build(longer);
    expect(r.status).toBe(1);
    expect(r.statuses).toEqual({ compile: "reused", train: "reused", export: "reused", verify: "failed", eval: "skipped" });
    expect(r.err).toMatch(/^error: edge\/reference\/main\.onnx output probs_main \((random|real) inputs, partition\) differs from tfjs by [\d.]+e[-+]\d+, above the tolerance 0\.0001$/m);
    expect(r.summary.stages.verify.reason).toBe("changed: onnx");
    expect(manifest().stages!.verify).toBeUndefined();
    // Nothing was recorded for verify, so it runs again (and fails again) until the export is redone.
    expect(build(longer).statuses.verify).toBe("failed");
    rmSync(path);
    const fixed = build(longer);
    expect(fixed.status, fixed.err).toBe(0);
    expect(fixed.statuses).toEqual({ compile: "reused", train: "reused", export: "ran", verify: "ran", eval: "reused" });
  });
});

describe("stage keys from the built code", () => {
  it("the keys computed by the built code (dist/) and by the sources (src/) agree", () => {
    const script = [
      'const { CODE_ROOTS, toolKey } = await import("./dist/toolchain/toolKey.js");',
      'const { STAGE_CODE } = await import("./dist/toolchain/build.js");',
      "console.log(JSON.stringify({ running: CODE_ROOTS.running, keys: Object.fromEntries(Object.entries(STAGE_CODE).map(([s, e]) => [s, toolKey(e)])) }));",
    ].join("\n");
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const fromDist = JSON.parse(r.stdout) as { running: string; keys: Record<string, string> };
    expect(fromDist.running).toMatch(/dist$/);
    expect(CODE_ROOTS.running).toMatch(/src$/);
    expect(fromDist.keys).toEqual(Object.fromEntries(STAGES.map((s) => [s, toolKey(STAGE_CODE[s])])));
  });
});
