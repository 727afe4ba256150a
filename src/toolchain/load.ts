import { Codes, renderDiagnostics, Source, type Diagnostic } from "../diagnostics/index.js";
import { compileSource, type CompileResult } from "../ir/index.js";
import { displayPath, nodeFs } from "./fs.js";
import { readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

/** Reads and compiles a spec file; an unreadable file or a directory becomes an MN5001 diagnostic. */
export function loadSpec(path: string): CompileResult {
  const name = displayPath(resolve(path));
  const text = isDirectory(name) ? undefined : nodeFs.read(name);
  if (text === undefined) {
    const d: Diagnostic = { code: Codes.FileUnreadable, severity: "error", span: undefined, ...unreadable(path) };
    return { ir: undefined, shapes: [], results: {}, diagnostics: [d], sources: [], bindings: [] };
  }
  return compileSource(new Source(name, text), nodeFs);
}

function isDirectory(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

/** The spec files directly inside a directory, as paths under it. */
export function specsIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".meanet") && !isDirectory(join(dir, f)))
    .sort()
    .map((f) => join(dir, f));
}

/** Why a spec path cannot be read: a directory (naming the specs in it) or a file that is not there or not readable. */
function unreadable(path: string): { message: string; hint: string } {
  if (!isDirectory(path)) return { message: `cannot read spec file \`${path}\``, hint: "check the path" };
  const specs = specsIn(path);
  const hint =
    specs.length === 0 ? "it holds no .meanet file; pass the path of a spec file" : specs.length === 1 ? `did you mean ${specs[0]}?` : `pass one of the spec files in it: ${specs.join(", ")}`;
  return { message: `\`${path}\` is a directory, not a spec file`, hint };
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
