import { Codes, DiagnosticBag, type RelatedInfo, type Span } from "../../diagnostics/index.js";
import type * as A from "../../parser/index.js";

/**
 * A block's read of another block, found in its body. `span` is where the block's own body makes the
 * read: the block name in `other.name`, or the call of the def that reads it. `via` says which def
 * reads it, and where, when the read is inside a def.
 */
interface BlockDep {
  name: string;
  span: Span;
  via: { defs: string[]; span: Span; label: string } | undefined;
}

/** A read of a block found in one body (a block's or a def's): where, and how it is written. */
interface FoundRead {
  name: string;
  span: Span;
  label: string;
  defs: string[];
  inner: Span | undefined;
}

/**
 * Topological order of blocks by the blocks they read, directly (`other.tensor`, or the block passed
 * on as a value) or inside the defs they call; a cycle is reported once and broken.
 */
export function orderBlocks(decls: A.BlockDecl[], defs: Map<string, A.DefDecl>, bag: DiagnosticBag): A.BlockDecl[] {
  const byName = new Map(decls.map((d) => [d.name.name, d]));
  const finder = new ReadFinder(new Set(byName.keys()), defs);
  const deps = new Map<string, BlockDep[]>();
  for (const d of decls) {
    const found = finder.body(d.body, new Set()).filter((r) => r.name !== d.name.name);
    deps.set(
      d.name.name,
      found.map((r) => ({ name: r.name, span: r.span, via: r.defs.length ? { defs: r.defs, span: r.inner!, label: r.label } : undefined })),
    );
  }
  const out: A.BlockDecl[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (d: A.BlockDecl, path: string[]): void => {
    if (state.has(d.name.name)) return;
    state.set(d.name.name, "visiting");
    for (const dep of deps.get(d.name.name) ?? []) {
      if (state.get(dep.name) === "visiting") {
        const cycle = [...path.slice(path.indexOf(dep.name)), d.name.name, dep.name];
        const via = dep.via;
        const related: RelatedInfo[] = via ? [{ message: `\`${via.label}\` is read here, in def \`${via.defs.at(-1)}\`${via.defs.length > 1 ? ` (called as ${via.defs.join(" → ")})` : ""}`, span: via.span }] : [];
        bag.error(Codes.BlockCycle, `blocks read each other in a cycle: ${cycle.join(" → ")}${via ? ` (through def \`${via.defs[0]}\`)` : ""}`, dep.span, {
          hint: "a block may read only blocks that do not read it back",
          ...(related.length ? { related } : {}),
        });
        continue;
      }
      visit(byName.get(dep.name)!, [...path, d.name.name]);
    }
    state.set(d.name.name, "done");
    out.push(d);
  };
  for (const d of decls) visit(d, []);
  return out;
}

/**
 * Finds the names that resolve to blocks in a body, following the defs it calls. A name is a block
 * unless a parameter or an earlier assignment at the same level binds it; an assignment inside an
 * `if` branch may not run, so it does not hide the block (counting a read too many only orders
 * blocks more strictly).
 */
class ReadFinder {
  /** The defs followed so far from the call in a block's body being read; undefined outside such a call. */
  private followed: Set<string> | undefined;

  constructor(
    private readonly blocks: Set<string>,
    private readonly defs: Map<string, A.DefDecl>,
  ) {}

  body(stmts: A.Statement[], bound: Set<string>): FoundRead[] {
    const out: FoundRead[] = [];
    for (const s of stmts) {
      switch (s.kind) {
        case "assign":
          this.expr(s.value, bound, out);
          if (s.repeat) this.expr(s.repeat, bound, out);
          if (s.target.name) bound.add(s.target.name);
          break;
        case "exit":
        case "return":
          this.expr(s.value, bound, out);
          break;
        case "if":
          this.expr(s.condition, bound, out);
          out.push(...this.body(s.then, new Set(bound)), ...this.body(s.otherwise, new Set(bound)));
          break;
      }
    }
    return out;
  }

  /**
   * The blocks a def's body and parameter defaults read, and those of the defs it calls. A def is
   * followed once per call in a block's body: met again there (called a second time, or recursively,
   * directly or through other defs), it adds nothing, as its reads are found where it was first met.
   * Nothing is kept from one such call to the next: reads found with a recursive call cut short would
   * miss what the rest of the cycle reads when the def is met first from elsewhere.
   */
  private def(def: A.DefDecl): FoundRead[] {
    if (this.followed!.has(def.name.name)) return [];
    this.followed!.add(def.name.name);
    const params = new Set(def.params.map((p) => p.name.name));
    const out: FoundRead[] = [];
    for (const p of def.params) if (p.default) this.expr(p.default, params, out);
    out.push(...this.body(def.body, new Set(params)));
    return out;
  }

  private expr(e: A.Expr, bound: Set<string>, out: FoundRead[]): void {
    const isBlock = (n: string) => this.blocks.has(n) && !bound.has(n);
    switch (e.kind) {
      case "name":
        if (isBlock(e.name)) out.push({ name: e.name, span: e.span, label: e.name, defs: [], inner: undefined });
        break;
      case "member":
        if (e.object.kind === "name" && isBlock(e.object.name)) out.push({ name: e.object.name, span: e.object.span, label: `${e.object.name}.${e.member.name}`, defs: [], inner: undefined });
        else this.expr(e.object, bound, out);
        break;
      case "list":
        e.elements.forEach((x) => this.expr(x, bound, out));
        break;
      case "call": {
        // A callee is looked up among defs, layers and built-ins, never among blocks.
        const def = e.callee.kind === "name" ? this.defs.get(e.callee.name) : undefined;
        if (def) {
          const outermost = this.followed === undefined;
          if (outermost) this.followed = new Set();
          const reads = this.def(def);
          if (outermost) this.followed = undefined;
          for (const r of reads) out.push({ name: r.name, span: e.callee.span, label: r.label, defs: [def.name.name, ...r.defs], inner: r.inner ?? r.span });
        }
        e.args.forEach((a) => this.expr(a.value, bound, out));
        break;
      }
      case "unary":
        this.expr(e.operand, bound, out);
        break;
      case "binary":
        this.expr(e.left, bound, out);
        this.expr(e.right, bound, out);
        break;
    }
  }
}
