import { Codes, DiagnosticBag, didYouMean, type Span } from "../../diagnostics/index.js";
import type * as A from "../../parser/index.js";
import type { DType, IrBlock, IrExit, IrGraph, Placement } from "../graph.js";
import { BlockLowering } from "./blocks.js";
import { lowerAssertions } from "./assertions.js";
import { lowerComplexity, type PendingSelection } from "./complexity.js";
import { SectionReader } from "./context.js";
import { lowerDevices } from "./devices.js";
import type { GraphStore } from "./nodes.js";
import { orderBlocks } from "./order.js";
import { lowerQuantize } from "./quantize.js";
import { classSet, lowerRouting } from "./route.js";
import { lowerTraining } from "./training.js";
import { checkDeferral } from "./deferral.js";
import { warnUnusedLayers } from "./unusedLayers.js";
import type { Value } from "./values.js";

const DTYPES: Record<string, DType> = { u8: "uint8", uint8: "uint8", i8: "int8", int8: "int8", f16: "float16", float16: "float16", f32: "float32", float32: "float32" };
const PLACEMENTS: readonly Placement[] = ["edge", "cloud", "auto"];
const MAX_LABELS = 100_000;
const RESERVED = new Set(["num_classes", "num_hard", "num_easy", "all", "hard", "easy", "same", "valid"]);

export interface LoweredSpec {
  ir: IrGraph;
  shapes: GraphStore["shapes"];
  /** Each assignment of a block body (not those inside defs): the expression's place and the nodes it made, def expansions included. */
  bindings: Binding[];
}

/** The nodes an assignment of a block body made: ids firstNode … endNode − 1 (what an editor shows for the line). */
export interface Binding {
  name: string;
  block: string;
  span: Span;
  tensor: number;
  firstNode: number;
  endNode: number;
}

/**
 * AST → IR: resolves names, expands defs, orders blocks by the tensors they read, and reads every
 * configuration section. Returns undefined only when the spec lacks what a graph needs at all.
 */
export function lower(main: A.SpecFile, imported: A.SpecFile[], bag: DiagnosticBag): LoweredSpec | undefined {
  const r = new SectionReader(bag);
  const items = main.items;
  const of = <K extends A.Item["kind"]>(kind: K) => items.filter((i): i is Extract<A.Item, { kind: K }> => i.kind === kind);
  const fileStart: Span = { source: main.span.source, start: 0, end: 0 };

  const defs = collectDefs(main, imported, bag);
  const modelDecl = single(of("model"), "model", bag);
  const inputDecl = single(of("input"), "input", bag);
  const labelsDecl = single(of("labels"), "labels", bag);
  if (!modelDecl) bag.error(Codes.MissingDeclaration, "the spec has no `model` declaration", fileStart, { hint: "start the spec with `model my_model`" });
  if (!inputDecl) bag.error(Codes.MissingDeclaration, "the spec has no `input` declaration", fileStart, { hint: "declare e.g. `input image: u8[28, 28, 1]`" });
  if (!labelsDecl) bag.error(Codes.MissingDeclaration, "the spec has no `labels` declaration", fileStart, { hint: "declare e.g. `labels 10` or `labels [\"cat\", \"dog\"]`" });
  if (!inputDecl || !labelsDecl) return undefined;
  const input = readInput(inputDecl, r);
  if (!input) return undefined;
  const labels = readLabels(labelsDecl, r);
  if (!labels) return undefined;

  const store: GraphStore = { tensors: [], nodes: [], shapes: [], callSites: [], defCalls: 0 };
  const inputName = inputDecl.name.name;
  store.tensors.push({ id: 0, name: inputName, block: "input", producer: -1, span: inputDecl.name.span });
  store.shapes.push(input.shape);

  const blockDecls = of("block").filter((b) => b.name.name);
  const blockNames = declareBlocks(blockDecls, inputName, bag);
  if (blockNames.size === 0) {
    bag.error(Codes.MissingDeclaration, "the spec declares no `block`", fileStart, { hint: "declare e.g. `block main on edge { … }`" });
    return undefined;
  }

  // Hard-class count is needed while lowering (num_hard); the exit it names is checked afterwards.
  const complexity = lowerComplexity(of("complexity"), labels, firstExitName(blockDecls), r);
  const globals = new Map<string, Value>([
    [inputName, { kind: "tensor", id: 0, label: inputName, gradient: false }],
    ["num_classes", { kind: "number", value: labels.length, unit: undefined }],
    ["num_hard", { kind: "number", value: complexity.selection.count, unit: undefined }],
    ["num_easy", { kind: "number", value: labels.length - complexity.selection.count, unit: undefined }],
  ]);
  for (const name of blockNames.keys()) globals.set(name, { kind: "block", name });

  const { blocks, exits, classExprs, assigned } = lowerBlocks(blockDecls, blockNames, defs, store, globals, bag);
  // After an error a layer may look unused only because what would read it failed.
  if (!bag.hasErrors) warnUnusedLayers(store, blocks, exits, assigned, bag);

  for (const x of exits) {
    const set = classSet(classExprs.get(x.name)!, labels, r);
    if (set) x.classes = set;
    // With its classes unknown, the exit's width cannot be checked: forget its shape rather than guess.
    else if (x.tensor >= 0) store.shapes[x.tensor] = undefined;
  }
  if (exits.length === 0) bag.error(Codes.MissingDeclaration, "no block declares an `exit`", blocks[0]!.span, { hint: "end a block with e.g. `exit main over all = dense(gap(x), num_classes)`" });
  checkRankingExit(complexity, exits, fileStart, bag);
  const objectiveDecl = single(of("objective"), "objective", bag);
  const objective = objectiveDecl ? (r.word({ kind: "name", name: objectiveDecl.value.name, span: objectiveDecl.value.span }, ["energy", "latency"] as const, "`objective`") ?? "energy") : "energy";

  const ir: IrGraph = {
    model: modelDecl?.name.name || "model",
    input: { name: inputName, dtype: input.dtype ?? "float32", shape: input.shape, tensor: 0, span: inputDecl.name.span },
    labels,
    tensors: store.tensors,
    nodes: store.nodes,
    blocks,
    exits,
    devices: lowerDevices(of("device"), r),
    hardClasses: complexity.selection,
    routing: lowerRouting(of("route"), exits, blocks, labels, r),
    training: lowerTraining(of("train"), blocks, exits, complexity.selection.exit, r),
    assertions: lowerAssertions(of("assert"), blocks, exits, r),
    objective,
    quantize: lowerQuantize(single(of("quantize"), "quantize", bag), r),
    sourceFiles: [main.span.source.name, ...imported.map((f) => f.span.source.name)],
  };
  checkDeferral(ir, of("train")[0], bag);
  const bindings = assigned.filter((a) => a.def === undefined).map(({ name, block, span, tensor, firstNode, endNode }) => ({ name, block, span, tensor, firstNode, endNode }));
  return { ir, shapes: store.shapes, bindings };
}

/** The defs of the spec and of the files it imports, by name; an imported file holds nothing else. */
function collectDefs(main: A.SpecFile, imported: A.SpecFile[], bag: DiagnosticBag): Map<string, A.DefDecl> {
  const defs = new Map<string, A.DefDecl>();
  for (const f of [...imported, main]) {
    for (const item of f.items) {
      if (f !== main && item.kind !== "def" && item.kind !== "import") {
        bag.error(Codes.ImportFailed, "an imported file may only hold `def`s and `import`s", item.span);
        continue;
      }
      if (item.kind !== "def" || !item.name.name) continue;
      const prior = defs.get(item.name.name);
      if (prior) {
        bag.error(Codes.DuplicateName, `\`${item.name.name}\` is defined twice`, item.name.span, { related: [{ message: "first defined here", span: prior.name.span }] });
        continue;
      }
      defs.set(item.name.name, item);
    }
  }
  return defs;
}

/** The first of the declarations of a section that may appear once; each further one is reported. */
function single<T extends A.Item>(list: T[], what: string, bag: DiagnosticBag): T | undefined {
  for (let i = 1; i < list.length; i++) bag.error(Codes.DuplicateDeclaration, `\`${what}\` is declared twice`, list[i]!.span, { related: [{ message: "first declared here", span: list[0]!.span }] });
  return list[0];
}

/** The input's type (undefined when unknown, already reported) and its shape, H×W×C or N. */
function readInput(decl: A.InputDecl, r: SectionReader): { dtype: DType | undefined; shape: number[] } | undefined {
  const dtype = DTYPES[decl.dtype.name];
  if (!dtype && decl.dtype.name) r.bag.error(Codes.BadValue, `unknown input type \`${decl.dtype.name}\``, decl.dtype.span, { hint: didYouMean(decl.dtype.name, Object.keys(DTYPES)) ?? `types: ${Object.keys(DTYPES).join(", ")}` });
  const shape: number[] = [];
  for (const d of decl.shape) {
    const v = r.integer(d, "an input dimension");
    if (v === undefined) return undefined;
    shape.push(v);
  }
  if (shape.length !== 3 && shape.length !== 1) {
    r.bag.error(Codes.BadInputShape, `the input is an image H×W×C or a vector N, but ${shape.length} dimensions were given`, decl.span);
    return undefined;
  }
  return { dtype, shape };
}

/** The blocks by name; a block named twice, or like the input or a built-in value, is reported and left out. */
function declareBlocks(blockDecls: A.BlockDecl[], inputName: string, bag: DiagnosticBag): Map<string, A.BlockDecl> {
  const blockNames = new Map<string, A.BlockDecl>();
  for (const b of blockDecls) {
    const prior = blockNames.get(b.name.name);
    if (prior) bag.error(Codes.DuplicateName, `block \`${b.name.name}\` is declared twice`, b.name.span, { related: [{ message: "first declared here", span: prior.name.span }] });
    else if (b.name.name === inputName || RESERVED.has(b.name.name)) bag.error(Codes.DuplicateName, `\`${b.name.name}\` is already the name of ${b.name.name === inputName ? "the input" : "a built-in value"}`, b.name.span);
    else blockNames.set(b.name.name, b);
  }
  return blockNames;
}

/**
 * Lowers the blocks, each after the blocks it reads. The blocks keep their declaration order in the
 * IR, and the exits theirs; an exit name declared twice is reported.
 */
function lowerBlocks(blockDecls: A.BlockDecl[], blockNames: Map<string, A.BlockDecl>, defs: Map<string, A.DefDecl>, store: GraphStore, globals: Map<string, Value>, bag: DiagnosticBag) {
  const order = orderBlocks([...blockNames.values()], defs, bag);
  const lowered = new Map<string, IrBlock>();
  const exits: IrExit[] = [];
  const classExprs = new Map<string, A.Expr>();
  const lowering = new BlockLowering(bag, store, defs, lowered, globals);
  for (const decl of order) {
    const out = lowering.lower(decl, placementOf(decl, bag));
    lowered.set(decl.name.name, out.block);
    for (const x of out.exits) {
      const prior = exits.find((e) => e.name === x.name);
      if (prior) {
        bag.error(Codes.DuplicateName, `exit \`${x.name}\` is declared twice`, x.span, { related: [{ message: "first declared here", span: prior.span }] });
        continue;
      }
      exits.push(x);
      classExprs.set(x.name, out.classExprs.get(x.name)!);
    }
  }
  const blocks = blockDecls.filter((b) => blockNames.get(b.name.name) === b).map((b) => lowered.get(b.name.name)!).filter(Boolean);
  exits.sort((a, b) => blocks.findIndex((x) => x.name === a.block) - blocks.findIndex((x) => x.name === b.block));
  return { blocks, exits, classExprs, assigned: lowering.assigned };
}

function placementOf(decl: A.BlockDecl, bag: DiagnosticBag): Placement {
  const placement = decl.device.name as Placement;
  if (PLACEMENTS.includes(placement)) return placement;
  if (decl.device.name) bag.error(Codes.UnknownDevice, `a block is placed \`on edge\`, \`on cloud\` or \`on auto\`, not \`${decl.device.name}\``, decl.device.span, { hint: didYouMean(decl.device.name, PLACEMENTS) });
  return "edge";
}

/** The exit that ranks classes to pick the hard ones must exist and cover all classes. */
function checkRankingExit(complexity: PendingSelection, exits: IrExit[], fileStart: Span, bag: DiagnosticBag): void {
  const sel = complexity.selection;
  const ranking = sel.kind === "lowest_accuracy" && sel.exit ? exits.find((e) => e.name === sel.exit) : undefined;
  if (sel.kind === "lowest_accuracy" && sel.exit && !ranking) {
    bag.error(Codes.UnknownName, `there is no exit \`${sel.exit}\` to rank classes by`, complexity.exitSpan ?? fileStart, { hint: didYouMean(sel.exit, exits.map((e) => e.name)) });
  } else if (ranking && ranking.classes.kind !== "all") {
    bag.error(Codes.BadComplexity, `exit \`${ranking.name}\` covers only some classes, so it cannot rank all of them`, complexity.exitSpan ?? ranking.span, { hint: "rank by an exit `over all`, usually the main block's" });
  } else if (sel.kind === "lowest_accuracy" && !sel.exit && exits.length > 1) {
    bag.error(Codes.BadComplexity, "no exit covers all classes, so none can rank them to pick the hard classes", fileStart, { hint: "give `complexity { hard: [\"label\", …] }` or add an exit `over all`" });
  }
}

function readLabels(decl: A.LabelsDecl, r: SectionReader): string[] | undefined {
  const v = decl.value;
  if (v.kind === "number") {
    const n = r.integer(v, "the number of labels", 2);
    if (n !== undefined && n > MAX_LABELS) {
      r.bag.error(Codes.BadValue, `at most ${MAX_LABELS} labels are supported, got ${n}`, v.span);
      return undefined;
    }
    return n === undefined ? undefined : Array.from({ length: n }, (_, i) => `class_${i}`);
  }
  const items = r.strings(v, "`labels`");
  if (!items) return undefined;
  const seen = new Set<string>();
  for (const it of items) {
    if (seen.has(it.value)) r.bag.error(Codes.DuplicateLabel, `label \`${it.value}\` is listed twice`, it.span);
    seen.add(it.value);
  }
  if (items.length < 2) {
    r.bag.error(Codes.BadValue, "a classifier needs at least two labels", v.span);
    return undefined;
  }
  return items.map((i) => i.value);
}

/** The default exit that ranks classes: the first over all classes (the main block's, in MEANet). */
function firstExitName(blocks: A.BlockDecl[]): string | undefined {
  for (const b of blocks) for (const s of b.body) if (s.kind === "exit" && s.name.name && s.classes.kind === "name" && s.classes.name === "all") return s.name.name;
  return undefined;
}
