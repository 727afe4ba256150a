import { Codes, DiagnosticBag, type Diagnostic, Source, sortDiagnostics, type Span } from "../diagnostics/index.js";
import { parse, type SpecFile } from "../parser/index.js";
import type { IrGraph, Shape } from "./graph.js";
import { lower, type Binding } from "./lower/index.js";
import { checkAssertions } from "./passes/assertions.js";
import { checkBudgets, totalByDevice } from "./passes/budgets.js";
import { costBlocks, costNodes, weighNodes } from "./passes/cost.js";
import { partitionByDevice } from "./passes/partition.js";
import type { Pass, PassResults } from "./passes/pass.js";
import { costRoutes } from "./passes/routeCosts.js";
import { autoChainRule } from "./rules/autoChain.js";
import { exitWidthRule } from "./rules/exitWidth.js";
import { placementFlowRule } from "./rules/placementFlow.js";

/** Validation rules, then passes, in order. Rules only report; passes fill the side tables. */
export const RULES: readonly Pass[] = [exitWidthRule, autoChainRule, placementFlowRule];
export const PASSES: readonly Pass[] = [costNodes, costBlocks, partitionByDevice, weighNodes, costRoutes, totalByDevice, checkBudgets, checkAssertions];

export interface FileSystem {
  /** Returns the file's text, or undefined if it cannot be read. */
  read(path: string): string | undefined;
  resolve(from: string, spec: string): string;
}

export interface CompileResult {
  ir: IrGraph | undefined;
  shapes: (Shape | undefined)[];
  results: PassResults;
  diagnostics: Diagnostic[];
  sources: Source[];
  /** Each assignment of a block body and the nodes it made (empty when the spec did not lower). */
  bindings: Binding[];
  /** The main file's syntax tree (what parsed of it), for tools that show the source (the language server). */
  ast?: SpecFile;
}

/** Parses the spec and its imports, lowers to IR, runs the rules and passes. Never throws on bad input. */
export function compileSource(main: Source, fs: FileSystem): CompileResult {
  const bag = new DiagnosticBag();
  const sources = [main];
  const mainParse = parse(main);
  bag.merge(mainParse.diagnostics);
  const imported: SpecFile[] = [];
  const seen = new Set<string>([main.name]);
  const queue: { file: SpecFile }[] = [{ file: mainParse.ast }];
  while (queue.length) {
    const { file } = queue.shift()!;
    for (const item of file.items) {
      if (item.kind !== "import" || !item.path) continue;
      const path = fs.resolve(file.span.source.name, item.path);
      if (seen.has(path)) continue;
      seen.add(path);
      const text = fs.read(path);
      if (text === undefined) {
        bag.error(Codes.ImportFailed, `cannot read imported file \`${item.path}\` (looked for ${path})`, item.span, { hint: 'the standard library is imported as `import "std/resnet"`' });
        continue;
      }
      const src = new Source(path, text);
      sources.push(src);
      const p = parse(src);
      bag.merge(p.diagnostics);
      imported.push(p.ast);
      queue.push({ file: p.ast });
    }
  }
  const empty: CompileResult = { ir: undefined, shapes: [], results: {}, diagnostics: [], sources, bindings: [], ast: mainParse.ast };
  if (bag.hasErrors) return { ...empty, diagnostics: sortDiagnostics(bag.items) };
  const lowered = lower(mainParse.ast, imported, bag);
  if (!lowered) return { ...empty, diagnostics: sortDiagnostics(bag.items) };
  const ctx = { ir: lowered.ir, shapes: lowered.shapes, bag, results: {} as PassResults };
  for (const rule of RULES) rule.run(ctx);
  // Costs and budgets are meaningless on a graph with unresolved shapes.
  if (!bag.hasErrors) for (const pass of PASSES) pass.run(ctx);
  return { ir: lowered.ir, shapes: lowered.shapes, results: ctx.results, diagnostics: sortDiagnostics(dedupe(bag.items)), sources, bindings: lowered.bindings, ast: mainParse.ast };
}

/** Defs expanded many times repeat the same problem at the same place: report it once. */
function dedupe(list: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return list.filter((d) => {
    const k = `${d.code}|${spanKey(d.span)}|${d.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function spanKey(s: Span | undefined): string {
  return s ? `${s.source.name}:${s.start}:${s.end}` : "";
}
