import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve, dirname } from "node:path";
import { describe, expect, it } from "vitest";

/** DESIGN.md §3: imports flow one way, diagnostics ← parser ← ir ← codegen ← cli. */
const ALLOWED: Record<string, string[]> = {
  diagnostics: [],
  parser: ["diagnostics"],
  ir: ["diagnostics", "parser"],
  codegen: ["diagnostics", "ir"],
  runtime: ["codegen", "ir", "diagnostics"],
  cli: ["diagnostics", "parser", "ir", "codegen", "runtime"],
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

describe("layering", () => {
  it("every import in src/ respects the layer table", () => {
    const violations: string[] = [];
    for (const file of files("src")) {
      const layer = relative("src", file).split("/")[0]!;
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/from "(\.[^"]+)"/g)) {
        const target = relative("src", resolve(dirname(file), m[1]!)).split("/")[0]!;
        if (target === layer) continue;
        if (!ALLOWED[layer]?.includes(target)) violations.push(`${file} imports ${m[1]} (${layer} → ${target})`);
      }
    }
    expect(violations).toEqual([]);
  });
});
