/**
 * The stage keys of `meanet build`, checked directly, without training: when a stage is reused,
 * what the training key follows and ignores, and the code each stage's tool key covers. The
 * command itself, on a short training, is test/build.e2e.test.ts.
 */
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { STAGE_CODE } from "../src/toolchain/build.js";
import { buildFiles } from "../src/toolchain/buildFiles.js";
import { hashOf, stageRecord, STAGES, trainingView, whyRun, type BuildState } from "../src/toolchain/buildStages.js";
import { keyRoot, modulesOf, toolKey } from "../src/toolchain/toolKey.js";
import { replaced, SPEC, withoutDeferral } from "./helpers/buildSpec.js";
import { compileText } from "./helpers/compile.js";

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

  it("the training key ignores routing (without a deferral stage), assertions and source positions, and follows the training plan and the graphs", () => {
    const key = (text: string) => hashOf(trainingView(buildFiles(compileText(text, "spec.meanet"), "unused").irJson));
    const plain = withoutDeferral(SPEC);
    const base = key(plain);
    expect(key("# a comment moves every line\n" + replaced(replaced(plain, "entropy(main) > 0.8", "entropy(main) > 0.5"), "assert accuracy >= 0.2", "assert accuracy >= 0.9"))).toBe(base);
    // A deferral stage learns from the edge's answers under the rules that do not lead to the cloud:
    // those are part of the key, the cloud rule's threshold is not.
    expect(key(SPEC)).not.toBe(base);
    expect(key(replaced(replaced(SPEC, "assert accuracy >= 0.2", "assert accuracy >= 0.9"), "defer(main, extension) > 0.15", "defer(main, extension) > calibrate(cloud_fraction: 0.1)"))).toBe(key(SPEC));
    expect(key(replaced(SPEC, "main when argmax(main) in easy", "main when max_prob(main) > 0.9"))).not.toBe(key(SPEC));
    expect(key(replaced(plain, /(stage main \{[^}]*epochs: )1/, "$13"))).not.toBe(base);
    expect(key(replaced(plain, "optimizer: adam(lr: 0.002)", "optimizer: adam(lr: 0.001)"))).not.toBe(base);
    expect(key(replaced(plain, "exit cloud over all = dense(dropout(flatten(x), rate: 0.4), num_classes)", "exit cloud over all = dense(dropout(flatten(x), rate: 0.5), num_classes)"))).not.toBe(base);
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
    expect(names(STAGE_CODE.eval)).toEqual(expect.arrayContaining(["runtime/eval/calibrate.js", "codegen/reportHtml/index.js"]));
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
