/**
 * `meanet build` end to end on a short Fashion-MNIST training (the example's network, one epoch
 * per stage, 3,000 training images): which stages run and which are reused as the spec changes,
 * the gates, and the stage keys in manifest.json. The reuse decisions and the training key are
 * also checked directly, without training.
 */
import { spawnSync } from "node:child_process";
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { STAGE_CODE, type BuildSummary, type StageStatus } from "../src/toolchain/build.js";
import { buildFiles } from "../src/toolchain/buildFiles.js";
import { CODE_ROOTS, keyRoot, modulesOf, toolKey } from "../src/toolchain/toolKey.js";
import { hashOf, keyOf, sha256Of, stageRecord, STAGES, trainingView, whyRun, type BuildState } from "../src/toolchain/buildStages.js";
import type { Manifest } from "../src/format/manifest.js";
import { decodeModel, onnx } from "../src/codegen/onnx/proto.js";
import { compileText } from "./helpers/compile.js";

const tmp = mkdtempSync(join(tmpdir(), "meanet-build-"));
const out = join(tmp, "build");
const dir = join(out, "fashion_mnist");
const specFile = join(tmp, "spec.meanet");
const FLAGS = ["--limit-train", "3000", "--limit-test", "100", "--backend", "wasm"];

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function replaced(text: string, from: string | RegExp, to: string): string {
  const next = text.replace(from, to);
  if (next === text) throw new Error(`the spec has no ${String(from)}`);
  return next;
}

/** The example with one epoch per stage and evaluation assertions a briefly trained model meets. */
const SPEC = [
  [/epochs: \d+/g, "epochs: 1"],
  [/^assert main\.accuracy.*\n/m, ""],
  [/^assert cloud\.accuracy.*\n/m, ""],
  ["assert cloud_fraction <= 0.25", "assert accuracy >= 0.2"],
].reduce((t, [from, to]) => replaced(t, from as string | RegExp, to as string), readFileSync("examples/fashion-mnist.meanet", "utf8"));

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
    expect(Object.keys(m.stages!.export!.outputs)).toContain("edge/extension.onnx");
    expect(Object.keys(m.stages!.eval!.outputs).sort()).toEqual(["eval.json", "report.html"]);
    expect(r.err).toMatch(/^train {3}ran in [\d.]+ s \(no earlier run\): 3 stages on 2,700 images/m);
  });

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

  const SPEC_THRESHOLD = replaced(replaced(SPEC, "entropy(main) > 0.8", "entropy(main) > 0.7"), "assert accuracy >= 0.2", "assert accuracy >= 0.25");

  it("changing a routing threshold and an assertion does not retrain; compile and the stages after training run again", () => {
    const weights = mtime("weights/main/weights.bin");
    const r = build(SPEC_THRESHOLD);
    expect(r.status, r.err).toBe(0);
    expect(r.statuses).toEqual({ compile: "ran", train: "reused", export: "ran", verify: "ran", eval: "ran" });
    expect(r.summary.stages.compile.reason).toBe("changed: spec");
    expect(mtime("weights/main/weights.bin")).toBe(weights);
    expect((JSON.parse(readFileSync(join(dir, "eval.json"), "utf8")) as { rule: string[] }).rule[0]).toContain("0.7");
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
  });

  it("--force runs every stage, and training starts over rather than from its checkpoint", () => {
    const longer = replaced(SPEC_THRESHOLD, /(stage cloud \{[^}]*epochs: )1/, "$12");
    const r = build(longer, "--force");
    expect(r.status, r.err).toBe(0);
    expect(r.statuses).toEqual(all("ran"));
    for (const s of Object.values(r.summary.stages)) expect(s.reason).toBe("--force");
    expect(r.err).toMatch(/main epoch 1\/1/);
    expect(r.err).not.toMatch(/resuming from checkpoint/);
  });

  it("exported outputs that differ from tfjs stop the build at verify, each named, and the next build checks again", () => {
    const longer = replaced(SPEC_THRESHOLD, /(stage cloud \{[^}]*epochs: )1/, "$12");
    // Every weight of edge/main.onnx scaled by 1.5, and the manifest made to agree with the file, so
    // that export is reused and only verify can notice.
    const path = join(dir, "edge/main.onnx");
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
    const sha = sha256Of(bytes);
    const m = manifest();
    m.artifacts = m.artifacts.map((a) => (a.path === "edge/main.onnx" ? { ...a, sha256: sha } : a));
    m.stages!.export!.outputs["edge/main.onnx"] = sha;
    writeFileSync(join(dir, "manifest.json"), JSON.stringify(m, null, 2) + "\n");

    const r = build(longer);
    expect(r.status).toBe(1);
    expect(r.statuses).toEqual({ compile: "reused", train: "reused", export: "reused", verify: "failed", eval: "skipped" });
    expect(r.err).toMatch(/^error: edge\/main\.onnx output probs_main \((random|real) inputs, partition\) differs from tfjs by [\d.]+e[-+]\d+, above the tolerance 0\.0001$/m);
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

describe("stage keys", () => {
  const state = (files: Record<string, string>, listed: Record<string, string> = files): BuildState => ({ fileSha: (p) => files[p], listed: new Map(Object.entries(listed)) });
  const inputs = { tool: "t", spec: "s" };
  const record = stageRecord(inputs, { "a.onnx": "1" });

  it("reuses a stage only when its inputs and its files are as recorded", () => {
    expect(whyRun(record, { spec: "s", tool: "t" }, state({ "a.onnx": "1" }))).toBeUndefined();
    expect(whyRun(record, inputs, state({ "a.onnx": "1" }), true)).toBe("--force");
    expect(whyRun(undefined, inputs, state({}))).toBe("no earlier run");
    expect(whyRun(record, { ...inputs, spec: "s2" }, state({ "a.onnx": "1" }))).toBe("changed: spec");
    expect(whyRun(record, { ...inputs, data: "d" }, state({ "a.onnx": "1" }))).toBe("changed: data");
    expect(whyRun(record, inputs, state({}))).toBe("a.onnx is missing");
    expect(whyRun(record, inputs, state({ "a.onnx": "2" }))).toBe("a.onnx changed since it was written");
    expect(whyRun(record, inputs, state({ "a.onnx": "1" }, {}))).toBe("manifest.json does not list a.onnx as written");
  });

  it("the training key ignores routing, assertions and source positions, and follows the training plan and the graphs", () => {
    const key = (text: string) => hashOf(trainingView(buildFiles(compileText(text, "spec.meanet"), "unused").irJson));
    const base = key(SPEC);
    expect(key("# a comment moves every line\n" + replaced(replaced(SPEC, "entropy(main) > 0.8", "entropy(main) > 0.5"), "assert accuracy >= 0.2", "assert accuracy >= 0.9"))).toBe(base);
    expect(key(replaced(SPEC, /(stage main \{[^}]*epochs: )1/, "$13"))).not.toBe(base);
    expect(key(replaced(SPEC, "optimizer: adam(lr: 0.002)", "optimizer: adam(lr: 0.001)"))).not.toBe(base);
    expect(key(replaced(SPEC, "exit cloud over all = dense(dropout(flatten(x), rate: 0.4), num_classes)", "exit cloud over all = dense(dropout(flatten(x), rate: 0.5), num_classes)"))).not.toBe(base);
  });

  it("the tool key follows the code a stage reaches through its imports (type-only ones aside), and nothing else", () => {
    const root = mkdtempSync(join(tmpdir(), "meanet-code-"));
    try {
      const files: Record<string, string> = {
        "stage.js":
          'import { a } from "./lib/a.js";\nexport * from "./lib/b.js";\nconst c = await import("./lib/c.js");\nconst text = "not an import: from \'./nowhere.js\'";\n' +
          'import type { T } from "./lib/types.js";\nimport type {\n  U,\n  V,\n} from "./lib/types.js";\nexport type { W } from "./lib/types.js";\nexport type X = { from: "./lib/types.js" };',
        "lib/types.ts": "export type T = number;",
        "lib/a.js": 'import "./d.js";\nexport const a = 1;',
        "lib/b.js": "export const b = 2;",
        "lib/c.js": "export const c = 3;",
        "lib/d.js": "globalThis.d = 4;",
        "other.js": "export const unrelated = 5;",
      };
      const write = (path: string, text: string) => {
        mkdirSync(join(root, path, ".."), { recursive: true });
        writeFileSync(join(root, path), text);
      };
      for (const [path, text] of Object.entries(files)) write(path, text);
      expect([...modulesOf(["stage.js"], root).keys()].sort()).toEqual(["lib/a.js", "lib/b.js", "lib/c.js", "lib/d.js", "stage.js"]);
      const base = toolKey(["stage.js"], root);
      write("other.js", "export const unrelated = 6;");
      expect(toolKey(["stage.js"], root)).toBe(base);
      for (const path of ["lib/d.js", "lib/c.js", "lib/b.js", "stage.js"]) {
        write(path, files[path] + "\n// changed");
        expect(toolKey(["stage.js"], root), path).not.toBe(base);
        write(path, files[path]!);
        expect(toolKey(["stage.js"], root)).toBe(base);
      }
      expect(() => toolKey(["missing.js"], root)).toThrow(/meanet's module missing\.js is missing from /);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("each stage's tool key covers the modules that do its work", () => {
    const names = (entries: readonly string[]) => [...modulesOf(entries).keys()];
    expect(names(STAGE_CODE.train)).toEqual(expect.arrayContaining(["runtime/train/recipe.js", "runtime/train/builder.js"]));
    expect(names(STAGE_CODE.export)).toEqual(expect.arrayContaining(["codegen/onnx/emit.js"]));
    expect(names(STAGE_CODE.verify)).toEqual(expect.arrayContaining(["runtime/infer/onnx.js"]));
    expect(names(STAGE_CODE.eval)).toEqual(expect.arrayContaining(["runtime/eval/calibrate.js", "codegen/reportHtml.js"]));
    expect(names(STAGE_CODE.compile)).toEqual(expect.arrayContaining(["parser/index.js", "codegen/trainProgram.js"]));
    expect(names(STAGE_CODE.compile)).not.toContain("runtime/train/recipe.js");
  });

  it("each stage's key covers the module of the stage's body: a change there changes that stage's key and no other's", () => {
    // A copy of the sources, so that a module can be changed without touching the checkout.
    const root = mkdtempSync(join(tmpdir(), "meanet-src-"));
    try {
      cpSync("src", root, { recursive: true });
      const keys = () => Object.fromEntries(STAGES.map((s) => [s, toolKey(STAGE_CODE[s], root)]));
      const base = keys();
      for (const stage of STAGES) {
        const body = join(root, "toolchain", "stages", `${stage}.ts`);
        const text = readFileSync(body, "utf8");
        appendFileSync(body, "\n// changed\n");
        const changed = keys();
        writeFileSync(body, text);
        expect(changed[stage], stage).not.toBe(base[stage]);
        for (const other of STAGES.filter((s) => s !== stage)) expect(changed[other], `${other} after a change to ${stage}'s body`).toBe(base[other]);
      }
      // What the stages share as types only is in no key.
      appendFileSync(join(root, "toolchain", "stages", "stage.ts"), "\n// changed\n");
      expect(keys()).toEqual(base);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("the verify stage's key covers what verify runs: onnxruntime, the tfjs builder and backend, the data loaders", () => {
    const names = [...modulesOf(STAGE_CODE.verify).keys()];
    for (const m of ["toolchain/stages/verify.js", "runtime/export/verify.js", "runtime/infer/onnx.js", "runtime/train/builder.js", "runtime/train/backend.js", "runtime/train/data/dataset.js", "runtime/train/data/locate.js", "runtime/train/data/idx.js", "runtime/train/data/cifar.js"]) {
      expect(names, m).toContain(m);
    }
  });

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

  it("the key reads the sources when the package has them, dist/ when it has nothing else or when dist/ is older than the sources", () => {
    const pkg = mkdtempSync(join(tmpdir(), "meanet-pkg-"));
    try {
      const src = join(pkg, "src");
      const dist = join(pkg, "dist");
      const write = (path: string, text: string) => {
        mkdirSync(join(path, ".."), { recursive: true });
        writeFileSync(path, text);
      };
      write(join(src, "stage.ts"), 'import { a } from "./lib/a.js";\nexport const s: number = a;');
      write(join(src, "lib", "a.ts"), "export const a: number = 1;");
      write(join(dist, "stage.js"), 'import { a } from "./lib/a.js";\nexport const s = a;');
      write(join(dist, "lib", "a.js"), "export const a = 1;");
      const built = Date.now() / 1000;
      for (const f of ["stage.js", "lib/a.js"]) utimesSync(join(dist, f), built, built);
      for (const f of ["stage.ts", "lib/a.ts"]) utimesSync(join(src, f), built - 60, built - 60);
      expect(keyRoot(["stage.js"], { running: dist, sources: src })).toBe(src);
      expect(keyRoot(["stage.js"], { running: src, sources: src })).toBe(src);
      expect(toolKey(["stage.js"], { running: dist, sources: src })).toBe(toolKey(["stage.js"], { running: src, sources: src }));
      // An installed package: dist/ only.
      expect(keyRoot(["stage.js"], { running: dist, sources: undefined })).toBe(dist);
      // A source edited after the build: dist/ runs older code, and its key says so.
      utimesSync(join(src, "lib", "a.ts"), built + 60, built + 60);
      expect(keyRoot(["stage.js"], { running: dist, sources: src })).toBe(dist);
      expect(toolKey(["stage.js"], { running: dist, sources: src })).not.toBe(toolKey(["stage.js"], { running: src, sources: src }));
    } finally {
      rmSync(pkg, { recursive: true, force: true });
    }
  });
});
