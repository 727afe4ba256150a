/**
 * What the language server knows about one open spec, computed from the compiler's own result (the
 * same parse, lowering and passes as `meanet check`): diagnostics per file, hover text for the
 * statement or block under the cursor, and the outline. Pure functions of the text and the files
 * it imports; the connection lives in server.ts.
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Diagnostic as LspDiagnostic, DocumentSymbol, Hover, Location, Range } from "vscode-languageserver";
import { DiagnosticSeverity, SymbolKind } from "vscode-languageserver";
import { emitIrJson } from "../codegen/irJson.js";
import type { Diagnostic, Span } from "../diagnostics/index.js";
import { Source } from "../diagnostics/index.js";
import type { IrJson } from "../format/ir.js";
import { compileSource, formatBytes, formatCount, type CompileResult, type FileSystem } from "../ir/index.js";
import { parse, type SpecFile } from "../parser/index.js";
import type { BlockDecl, DefDecl, Expr, Item, Statement } from "../parser/ast.js";

/** One analysis of a spec: the compile result, the main file's syntax tree, and its IR as ir.json has it (when it compiled; built on the first hover). */
export interface Analysis {
  main: Source;
  result: CompileResult;
  ast: SpecFile;
  readonly ir: IrJson | undefined;
}

export function analyse(path: string, text: string, fs: FileSystem): Analysis {
  const main = new Source(path, text);
  const result = compileSource(main, fs);
  let ir: IrJson | undefined | null = null;
  return {
    main,
    result,
    ast: result.ast ?? parse(main).ast,
    get ir() {
      if (ir === null) {
        ir = undefined;
        if (result.ir && !result.diagnostics.some((d) => d.severity === "error")) ir = emitIrJson(result.ir, result.shapes, result.results);
      }
      return ir;
    },
  };
}

/** A source's name (a path, maybe relative to the working directory) as a file URI. */
export function uriOf(name: string): string {
  return pathToFileURL(resolve(name)).href;
}

export function rangeOf(span: Span): Range {
  const a = span.source.position(span.start);
  const b = span.source.position(Math.max(span.start, span.end));
  return { start: { line: a.line - 1, character: a.column - 1 }, end: { line: b.line - 1, character: b.column - 1 } };
}

/** The diagnostics of a compile, grouped by the file they point into (URI); those without a place go to the main file's start. */
export function diagnosticsByFile(a: Analysis): Map<string, LspDiagnostic[]> {
  const out = new Map<string, LspDiagnostic[]>([[uriOf(a.main.name), []]]);
  for (const d of a.result.diagnostics) {
    const uri = d.span ? uriOf(d.span.source.name) : uriOf(a.main.name);
    if (!out.has(uri)) out.set(uri, []);
    out.get(uri)!.push(toLsp(d));
  }
  return out;
}

function toLsp(d: Diagnostic): LspDiagnostic {
  return {
    range: d.span ? rangeOf(d.span) : { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
    severity: d.severity === "error" ? DiagnosticSeverity.Error : DiagnosticSeverity.Warning,
    code: d.code,
    source: "meanet",
    message: d.hint ? `${d.message}\nhint: ${d.hint}` : d.message,
    ...(d.related?.length ? { relatedInformation: d.related.map((r) => ({ location: { uri: uriOf(r.span.source.name), range: rangeOf(r.span) }, message: r.message })) } : {}),
  };
}

const inside = (span: Span, offset: number) => offset >= span.start && offset <= span.end;
const within = (inner: Span, outer: Span) => inner.source === outer.source && inner.start >= outer.start && inner.end <= outer.end;

/** The nodes of the IR whose place is inside `span` (a statement or a block), in graph order. */
function nodesIn(a: Analysis, span: Span): number[] {
  return a.result.ir!.nodes.filter((n) => within(n.span, span)).map((n) => n.id);
}

const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);

function shapeText(shape: readonly number[]): string {
  return shape.length ? shape.join("×") : "scalar";
}

/** Op names in order, runs of more than a few shown as counts: "conv2d ×12, batchnorm ×12, …". */
function summariseOps(ops: string[]): string {
  if (ops.length <= 8) return ops.join(", ");
  const counts = new Map<string, number>();
  for (const op of ops) counts.set(op, (counts.get(op) ?? 0) + 1);
  return [...counts].map(([op, n]) => `${op} ×${n}`).join(", ");
}

/** Params, MACs, weight bytes and devices of a set of IR nodes, as markdown lines. */
function costLines(ir: IrJson, ids: number[]): string[] {
  const nodes = ids.map((i) => ir.nodes[i]!);
  const params = nodes.reduce((s, n) => s + n.params, 0);
  const macs = nodes.reduce((s, n) => s + n.macs, 0);
  const bytes = nodes.reduce((s, n) => s + n.weightBytes, 0);
  const devices = [...new Set(nodes.map((n) => n.device))];
  return [`params ${formatCount(params)} · MACs ${formatCount(macs)} · weights ${formatBytes(bytes)}`, `on the ${devices.join(" and ")}`];
}

/** A block's or def's whole text: its header's span (its name) to the end of its last statement. */
function extent(item: { span: Span; body: readonly Statement[] }): Span {
  const end = item.body.reduce((e, st) => Math.max(e, st.span.end), item.span.end);
  // From the start of the header's line (the keyword before the name).
  const text = item.span.source.text;
  const start = text.lastIndexOf("\n", item.span.start - 1) + 1;
  return { source: item.span.source, start, end };
}

/** The statement of a block body whose span holds `offset`, looking into `if` branches. */
function statementAt(body: readonly Statement[], offset: number): Statement | undefined {
  for (const s of body) {
    if (!inside(s.span, offset)) continue;
    if (s.kind === "if") return statementAt(s.then, offset) ?? statementAt(s.otherwise, offset) ?? s;
    return s;
  }
  return undefined;
}

/**
 * Hover at an offset of the main file: for a statement of a block (an assignment or an exit), the
 * output shape, params, MACs, weight bytes and device of the layers it makes; for a block's header,
 * its totals. Undefined elsewhere, or while the spec does not compile.
 */
export function hoverAt(a: Analysis, offset: number): Hover | undefined {
  if (!a.ir) return undefined;
  const block = a.ast.items.find((i): i is BlockDecl => i.kind === "block" && inside(extent(i), offset));
  if (!block) return undefined;
  const statement = statementAt(block.body, offset);
  if (statement && statement.kind !== "if") {
    // An assignment's nodes as lowering recorded them (a def call's expansion included); an exit's by place.
    const binding = statement.kind === "assign" ? a.result.bindings.find((b) => b.block === block.name.name && b.span.source === statement.value.span.source && b.span.start === statement.value.span.start) : undefined;
    const ids = binding ? range(binding.firstNode, binding.endNode) : nodesIn(a, statement.span);
    if (!ids.length) return undefined;
    const last = a.ir.nodes[ids[ids.length - 1]!]!;
    const output = binding ? binding.tensor : last.output;
    const name = statement.kind === "assign" ? statement.target.name : statement.kind === "exit" ? `exit ${statement.name.name}` : "return";
    const ops = ids.map((i) => a.ir!.nodes[i]!.op);
    const lines = [`**${name}**: ${shapeText(a.ir.tensors[output]!.shape)}`, "", ...costLines(a.ir, ids), "", `layers: ${summariseOps(ops)}`];
    return { contents: { kind: "markdown", value: lines.join("\n") }, range: rangeOf(statement.span) };
  }
  const b = a.ir.blocks.find((x) => x.name === block.name.name);
  if (!b) return undefined;
  const lines = [`**block ${b.name}** (${b.nodes.length} layers)`, "", ...costLines(a.ir, b.nodes)];
  return { contents: { kind: "markdown", value: lines.join("\n") }, range: rangeOf(block.name.span) };
}

/** The outline: each top-level item, blocks and defs with their statements, train with its stages. */
export function documentSymbols(ast: SpecFile): DocumentSymbol[] {
  return ast.items.map((item) => itemSymbol(item)).filter((s): s is DocumentSymbol => s !== undefined);
}

function symbol(name: string, detail: string, kind: SymbolKind, span: Span, selection: Span, children?: DocumentSymbol[]): DocumentSymbol {
  return { name: name || "(unnamed)", detail, kind, range: rangeOf(span), selectionRange: rangeOf(selection), ...(children?.length ? { children } : {}) };
}

function statementSymbols(body: readonly Statement[]): DocumentSymbol[] {
  return body.flatMap((s): DocumentSymbol[] => {
    if (s.kind === "assign") return [symbol(s.target.name, "tensor", SymbolKind.Variable, s.span, s.target.span)];
    if (s.kind === "exit") return [symbol(s.name.name, "exit", SymbolKind.Event, s.span, s.name.span)];
    if (s.kind === "if") return [...statementSymbols(s.then), ...statementSymbols(s.otherwise)];
    return [];
  });
}

function itemSymbol(item: Item): DocumentSymbol | undefined {
  switch (item.kind) {
    case "block":
      return symbol(item.name.name, `block on ${item.device.name}`, SymbolKind.Class, extent(item), item.name.span, statementSymbols(item.body));
    case "def":
      return symbol(item.name.name, `def (${item.params.map((p) => p.name.name).join(", ")})`, SymbolKind.Function, extent(item), item.name.span, statementSymbols(item.body));
    case "device":
      return symbol(item.name.name, "device", SymbolKind.Object, item.span, item.name.span);
    case "model":
      return symbol(item.name.name, "model", SymbolKind.Module, item.span, item.name.span);
    case "input":
      return symbol(item.name.name, "input", SymbolKind.Variable, item.span, item.name.span);
    case "train":
      return symbol("train", "training", SymbolKind.Namespace, item.span, item.span, item.stages.map((s) => symbol(s.name.name, "stage", SymbolKind.Method, s.span, s.name.span)));
    case "route":
    case "complexity":
    case "quantize":
    case "labels":
      return symbol(item.kind, "section", SymbolKind.Namespace, item.span, item.span);
    default:
      return undefined;
  }
}

/** An identifier the cursor is on, with what surrounds it: the body it is in and, for `a.b`, the object's name. */
type NameAt =
  | { kind: "name"; name: string; body: readonly Statement[]; params: string[] }
  | { kind: "member"; block: string; member: string }
  | { kind: "callee"; name: string }
  | { kind: "exit"; name: string };

function nameInExpr(e: Expr | undefined, offset: number, body: readonly Statement[], params: string[]): NameAt | undefined {
  if (!e || !inside(e.span, offset)) return undefined;
  switch (e.kind) {
    case "name":
      return { kind: "name", name: e.name, body, params };
    case "member":
      if (e.object.kind === "name" && inside(e.member.span, offset)) return { kind: "member", block: e.object.name, member: e.member.name };
      return nameInExpr(e.object, offset, body, params);
    case "call":
      if (e.callee.kind === "name" && inside(e.callee.span, offset)) return { kind: "callee", name: e.callee.name };
      for (const arg of e.args) {
        const found = nameInExpr(arg.value, offset, body, params);
        if (found) return found;
      }
      return nameInExpr(e.callee, offset, body, params);
    case "list":
      for (const el of e.elements) {
        const found = nameInExpr(el, offset, body, params);
        if (found) return found;
      }
      return undefined;
    case "unary":
      return nameInExpr(e.operand, offset, body, params);
    case "binary":
      return nameInExpr(e.left, offset, body, params) ?? nameInExpr(e.right, offset, body, params);
    default:
      return undefined;
  }
}

function nameInBody(stmts: readonly Statement[], offset: number, body: readonly Statement[], params: string[]): NameAt | undefined {
  for (const s of stmts) {
    if (!inside(s.span, offset)) continue;
    switch (s.kind) {
      case "assign":
        return nameInExpr(s.value, offset, body, params) ?? nameInExpr(s.repeat, offset, body, params);
      case "exit":
        return nameInExpr(s.value, offset, body, params) ?? nameInExpr(s.classes, offset, body, params);
      case "return":
        return nameInExpr(s.value, offset, body, params);
      case "if":
        return nameInExpr(s.condition, offset, body, params) ?? nameInBody(s.then, offset, body, params) ?? nameInBody(s.otherwise, offset, body, params);
    }
  }
  return undefined;
}

function nameAt(ast: SpecFile, offset: number): NameAt | undefined {
  for (const item of ast.items) {
    if ((item.kind === "block" || item.kind === "def") && inside(extent(item), offset)) {
      const params = item.kind === "def" ? item.params.map((p) => p.name.name) : [];
      return nameInBody(item.body, offset, item.body, params);
    }
    if (item.kind === "route") {
      for (const rule of item.rules) {
        if (inside(rule.target.span, offset)) return { kind: "exit", name: rule.target.name };
        const found = nameInExpr(rule.condition, offset, [], []);
        if (found?.kind === "name") return { kind: "exit", name: found.name };
        if (found) return found;
      }
    }
  }
  return undefined;
}

/** Assignments of a body, `if` branches included, in text order. */
function assignments(body: readonly Statement[]): Extract<Statement, { kind: "assign" }>[] {
  return body.flatMap((s) => (s.kind === "assign" ? [s] : s.kind === "if" ? [...assignments(s.then), ...assignments(s.otherwise)] : []));
}

function exits(body: readonly Statement[]): Extract<Statement, { kind: "exit" }>[] {
  return body.flatMap((s) => (s.kind === "exit" ? [s] : s.kind === "if" ? [...exits(s.then), ...exits(s.otherwise)] : []));
}

/** Imported files' syntax trees, parsed once per analysis (sources are new objects on each compile). */
const trees = new WeakMap<Source, SpecFile>();
function parsed(source: Source): SpecFile {
  let tree = trees.get(source);
  if (!tree) trees.set(source, (tree = parse(source).ast));
  return tree;
}

/**
 * Where the name under the cursor is defined: a tensor at its last assignment before the cursor in
 * the same body (or a def's parameter, or the input), `block.tensor` at that block's last
 * assignment of it, a block name at its declaration, a def at its `def` (in the spec or an imported
 * file, `std/` included), an exit of `route` at its `exit` statement. Undefined when unknown.
 */
export function definitionAt(a: Analysis, offset: number): Location | undefined {
  const at = nameAt(a.ast, offset);
  if (!at) return undefined;
  const location = (span: Span): Location => ({ uri: uriOf(span.source.name), range: rangeOf(span) });
  const blocks = a.ast.items.filter((i): i is BlockDecl => i.kind === "block");
  const blockNamed = (name: string) => blocks.find((b) => b.name.name === name);
  switch (at.kind) {
    case "name": {
      // Statements wholly before the cursor: in `x = f(x)` the `x` read is the previous one.
      const before = assignments(at.body).filter((s) => s.target.name === at.name && s.span.end <= offset);
      if (before.length) return location(before[before.length - 1]!.target.span);
      const def = a.ast.items.find((i): i is DefDecl => i.kind === "def" && i.body === at.body);
      const param = def?.params.find((p) => p.name.name === at.name);
      if (param) return location(param.name.span);
      const block = blockNamed(at.name);
      if (block) return location(block.name.span);
      const input = a.ast.items.find((i) => i.kind === "input" && i.name.name === at.name);
      return input && input.kind === "input" ? location(input.name.span) : undefined;
    }
    case "member": {
      const block = blockNamed(at.block);
      const made = block ? assignments(block.body).filter((s) => s.target.name === at.member) : [];
      return made.length ? location(made[made.length - 1]!.target.span) : undefined;
    }
    case "callee": {
      // The spec's own defs first, then those of the files it imports.
      const files = [a.ast, ...a.result.sources.slice(1).map(parsed)];
      for (const file of files) {
        const def = file.items.find((i): i is DefDecl => i.kind === "def" && i.name.name === at.name);
        if (def) return location(def.name.span);
      }
      return undefined;
    }
    case "exit": {
      for (const b of blocks) {
        const exit = exits(b.body).find((x) => x.name.name === at.name);
        if (exit) return location(exit.name.span);
      }
      return undefined;
    }
  }
}

/** Every place a name is written in the main file: uses (names, `block.member`, callees, exits in `route`) and definition sites. */
function occurrences(ast: SpecFile): { span: Span; definition: boolean }[] {
  const out: { span: Span; definition: boolean }[] = [];
  const expr = (e: Expr | undefined): void => {
    if (!e) return;
    switch (e.kind) {
      case "name":
        out.push({ span: e.span, definition: false });
        return;
      case "member":
        expr(e.object);
        out.push({ span: e.member.span, definition: false });
        return;
      case "call":
        expr(e.callee);
        for (const arg of e.args) expr(arg.value);
        return;
      case "list":
        e.elements.forEach(expr);
        return;
      case "unary":
        expr(e.operand);
        return;
      case "binary":
        expr(e.left);
        expr(e.right);
        return;
      default:
        return;
    }
  };
  const body = (stmts: readonly Statement[]): void => {
    for (const s of stmts) {
      if (s.kind === "assign") {
        out.push({ span: s.target.span, definition: true });
        expr(s.value);
        expr(s.repeat);
      } else if (s.kind === "exit") {
        out.push({ span: s.name.span, definition: true });
        expr(s.classes);
        expr(s.value);
      } else if (s.kind === "return") expr(s.value);
      else {
        expr(s.condition);
        body(s.then);
        body(s.otherwise);
      }
    }
  };
  for (const item of ast.items) {
    if (item.kind === "block" || item.kind === "def") {
      out.push({ span: item.name.span, definition: true });
      if (item.kind === "def") for (const p of item.params) out.push({ span: p.name.span, definition: true });
      body(item.body);
    } else if (item.kind === "route") {
      for (const rule of item.rules) {
        out.push({ span: rule.target.span, definition: false });
        expr(rule.condition);
      }
    } else if (item.kind === "input") out.push({ span: item.name.span, definition: true });
  }
  return out;
}

const sameLocation = (x: Location | undefined, y: Location) => x !== undefined && x.uri === y.uri && x.range.start.line === y.range.start.line && x.range.start.character === y.range.start.character;

/** The definition the cursor is on or refers to, and every place in the main file that refers to it. */
export function referencesAt(a: Analysis, offset: number, includeDeclaration: boolean): Location[] {
  const all = occurrences(a.ast);
  const here = all.find((o) => inside(o.span, offset));
  if (!here) return [];
  // On a definition site the definition is the site itself; elsewhere, where the name resolves to.
  const target = here.definition ? { uri: uriOf(here.span.source.name), range: rangeOf(here.span) } : definitionAt(a, offset);
  if (!target) return [];
  const refs: Location[] = [];
  for (const o of all) {
    const loc = { uri: uriOf(o.span.source.name), range: rangeOf(o.span) };
    if (sameLocation(target, loc)) continue;
    // A later assignment to the same name is a definition of its own; only uses resolve to this one.
    if (!o.definition && sameLocation(definitionAt(a, o.span.start), target)) refs.push(loc);
  }
  return includeDeclaration ? [target, ...refs] : refs;
}

/**
 * The edits that rename the name under the cursor (a tensor, block, def or exit of the main file)
 * and every reference to it; an error message when it cannot be renamed (not a name, a definition
 * in another file such as `std/`, or a new name that is not an identifier).
 */
export function renameAt(a: Analysis, offset: number, newName: string): { edits: { range: Range; newText: string }[] } | { error: string } {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(newName)) return { error: `\`${newName}\` is not a name (letters, digits and _, not starting with a digit)` };
  const all = referencesAt(a, offset, true);
  if (!all.length) return { error: "nothing to rename here: put the cursor on a tensor, block, def or exit" };
  const main = uriOf(a.main.name);
  if (all[0]!.uri !== main) return { error: `it is defined in ${all[0]!.uri}, not in this file` };
  return { edits: all.filter((l) => l.uri === main).map((l) => ({ range: l.range, newText: newName })) };
}
