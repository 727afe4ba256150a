import { Codes, renderDiagnostics, Source, type Diagnostic } from "../diagnostics/index.js";
import { compileSource, type CompileResult } from "../ir/index.js";
import { displayPath, nodeFs } from "./fs.js";
import { resolve } from "node:path";

/** Reads and compiles a spec file; an unreadable file becomes an MN5001 diagnostic. */
export function loadSpec(path: string): CompileResult {
  const name = displayPath(resolve(path));
  const text = nodeFs.read(name);
  if (text === undefined) {
    const d: Diagnostic = { code: Codes.FileUnreadable, severity: "error", message: `cannot read spec file \`${path}\``, span: undefined, hint: "check the path" };
    return { ir: undefined, shapes: [], results: {}, diagnostics: [d], sources: [] };
  }
  return compileSource(new Source(name, text), nodeFs);
}

export function errorsOf(r: CompileResult): Diagnostic[] {
  return r.diagnostics.filter((d) => d.severity === "error");
}

export function summary(list: Diagnostic[]): string {
  const e = list.filter((d) => d.severity === "error").length;
  const w = list.length - e;
  return `${e} error${e === 1 ? "" : "s"}, ${w} warning${w === 1 ? "" : "s"}`;
}

export { renderDiagnostics };
