import type { DiagnosticBag, Span } from "../../diagnostics/index.js";
import type { DefDecl, Expr, Statement } from "../../parser/index.js";
import type { IrBlock } from "../graph.js";
import type { BlockGraph, GraphStore } from "./nodes.js";
import type { Value } from "./values.js";

/** The variables of one body being lowered: a block's, or one call of a def's. */
export interface Frame {
  vars: Map<string, Value>;
  /** Def call path, used to name nodes. */
  scope: string;
  depth: number;
  inDef: boolean;
  /** The def whose body runs, and the call in the block's own body that led there. */
  def?: string;
  callSite?: Span;
  returned?: Value;
}

/** Stops lowering a block; the reason is already reported. */
export class Abort extends Error {}

/**
 * What evaluating a body needs: the names a spec declares, the graph of the block being built, and
 * the way back into expressions and statements (a def's defaults and body).
 */
export interface BodyContext {
  readonly bag: DiagnosticBag;
  readonly store: GraphStore;
  readonly defs: ReadonlyMap<string, DefDecl>;
  /** The blocks lowered so far. */
  readonly blocks: ReadonlyMap<string, IrBlock>;
  readonly globals: ReadonlyMap<string, Value>;
  /** Blocks lowered without a block they read (a cycle, already reported), or stopped early: their missing tensors are not news. */
  readonly incomplete: Set<string>;
  /** Per lowered block, the names it bound to a value that failed (already reported): reading them as `block.name` is silent. */
  readonly poisoned: ReadonlyMap<string, ReadonlySet<string>>;
  /** The block being lowered. */
  readonly graph: BlockGraph;
  expr(e: Expr, frame: Frame): Value | undefined;
  run(stmts: Statement[], frame: Frame): void;
}
