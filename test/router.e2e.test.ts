/**
 * The generated edge/router.ts of every example type-checks against the runtime it imports
 * (src/runtime/infer) and Node's types. Its decisions are test/router.test.ts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import ts from "typescript";
import { afterAll, describe, expect, it } from "vitest";
import { buildFiles, writeBuild } from "../src/toolchain/buildFiles.js";
import { loadSpec } from "../src/toolchain/load.js";

const tmp = mkdtempSync(join(tmpdir(), "meanet-router-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const EXAMPLES = ["fashion-mnist", "cifar100-resnet32", "imagenet-resnet18", "imagenet-mobilenetv2"];

describe("generated edge/router.ts", () => {
  it("type-checks for every example", () => {
    const programs = EXAMPLES.map((ex) => {
      const r = loadSpec(`examples/${ex}.meanet`);
      const b = buildFiles(r, join(tmp, "tc"));
      writeBuild(r, b);
      return join(b.dir, "edge", "router.ts");
    });
    const options: ts.CompilerOptions = {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: ["node"],
      typeRoots: [resolve("node_modules/@types")],
      baseUrl: resolve("."),
      paths: { "meanet/runtime/infer": [resolve("src/runtime/infer/index.ts")] },
    };
    const program = ts.createProgram(programs, options, ts.createCompilerHost({}));
    const errors = ts.getPreEmitDiagnostics(program).map((d) => `${d.file?.fileName ?? ""}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
    expect(errors).toEqual([]);
  });
});
