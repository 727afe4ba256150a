import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve, dirname } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * ARCHITECTURE.md, "Layers": imports flow one way. The runtime needs nothing but the on-disk
 * contract (format) and diagnostics, so a deployed router or server never loads the compiler;
 * the toolchain (export, build orchestration) is the one layer that joins compiler and runtime.
 */
const ALLOWED: Record<string, string[]> = {
  diagnostics: [],
  format: ["diagnostics"],
  parser: ["diagnostics"],
  ir: ["diagnostics", "parser", "format"],
  codegen: ["diagnostics", "ir", "format"],
  runtime: ["diagnostics", "format"],
  toolchain: ["diagnostics", "format", "parser", "ir", "codegen", "runtime"],
  lsp: ["diagnostics", "format", "parser", "ir", "codegen", "toolchain"],
  cli: ["diagnostics", "format", "parser", "ir", "codegen", "runtime", "toolchain", "lsp"],
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

/** Every relative import (static, `export … from` and dynamic `import("…")`) of a file's text, with the layer it reaches. */
function importsIn(file: string, text: string): { target: string; spec: string }[] {
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*"(\.[^"]+)"/g)].map((m) => m[1]!);
  return specs.map((spec) => ({ spec, target: relative("src", resolve(dirname(file), spec)).split("/")[0]! }));
}

describe("layering", () => {
  it("every folder under src/ is a layer of the table", () => {
    const layers = readdirSync("src").filter((f) => statSync(join("src", f)).isDirectory());
    expect(layers.sort()).toEqual(Object.keys(ALLOWED).sort());
  });

  it("every import in src/ respects the layer table", () => {
    const violations: string[] = [];
    for (const file of files("src")) {
      const layer = relative("src", file).split("/")[0]!;
      for (const { spec, target } of importsIn(file, readFileSync(file, "utf8"))) {
        if (target === layer) continue;
        if (!ALLOWED[layer]?.includes(target)) violations.push(`${file} imports ${spec} (${layer} → ${target})`);
      }
    }
    expect(violations).toEqual([]);
  });

  it("the check sees a runtime → compiler import (dynamic ones included)", () => {
    const probe = join("src", "runtime", "__layering_probe__.ts");
    const seen = (text: string) => importsIn(probe, text).map((i) => i.target).filter((t) => !ALLOWED.runtime!.includes(t) && t !== "runtime");
    expect(seen('import { planPartitions } from "../codegen/onnx/plan.js";')).toEqual(["codegen"]);
    expect(seen('const m = await import("../ir/index.js");')).toEqual(["ir"]);
    expect(seen('export { holds } from "../format/conditions.js";')).toEqual([]);
  });
});
