import { Source } from "../../src/diagnostics/index.js";
import { compileSource, type CompileResult, type FileSystem } from "../../src/ir/index.js";
import { nodeFs } from "../../src/toolchain/fs.js";

/** Compiles spec text in memory; imports resolve against the real std library. */
export function compileText(text: string, name = "spec.meanet", extra: Record<string, string> = {}): CompileResult {
  const fs: FileSystem = {
    read: (p) => extra[p] ?? nodeFs.read(p),
    resolve: (from, spec) => (extra[spec] !== undefined ? spec : nodeFs.resolve(from, spec)),
  };
  return compileSource(new Source(name, text), fs);
}

export function errorCodes(r: CompileResult): string[] {
  return r.diagnostics.filter((d) => d.severity === "error").map((d) => d.code);
}

/** A minimal valid spec around a block body, for focused tests. */
export function withBlocks(blocks: string, extra = ""): string {
  return `model t\ninput image: f32[32, 32, 3]\nlabels 10\n${blocks}\n${extra}\n`;
}
