import { Codes } from "../../diagnostics/index.js";
import type { CallExpr, DefDecl } from "../../parser/index.js";
import { bindDefArgs, type CallArg } from "./args.js";
import { Abort, type BodyContext, type Frame } from "./frame.js";
import type { Value } from "./values.js";

/** Past this, a spec is rejected rather than expanded: a def that calls itself never ends. */
const MAX_DEPTH = 48;
/**
 * Past this many def calls in one spec, lowering stops: calls that make no layers can still
 * branch (a def calling itself twice per level), and 2^40 calls would never finish.
 */
export const MAX_DEF_CALLS = 100_000;

/** Expands one call of a def: binds its parameters, runs its body in a frame of its own, and gives back what it returns. */
export function expandDef(cx: BodyContext, def: DefDecl, e: CallExpr, args: CallArg[], frame: Frame): Value | undefined {
  if (frame.depth >= MAX_DEPTH) {
    cx.bag.error(Codes.RecursionLimit, `defs nest deeper than ${MAX_DEPTH} levels at \`${def.name.name}\``, e.span, { hint: "a def that calls itself never ends" });
    throw new Abort();
  }
  if (++cx.store.defCalls > MAX_DEF_CALLS) {
    // Reported once, at the call that crossed the limit; every later call stops at once.
    if (cx.store.defCalls === MAX_DEF_CALLS + 1) {
      cx.bag.error(Codes.RecursionLimit, `the spec expands more than ${MAX_DEF_CALLS.toLocaleString("en-US")} def calls, the last at \`${def.name.name}\``, e.span, { hint: "a def that calls itself more than once per level grows exponentially; pass a smaller count, or repeat with `x N`" });
    }
    throw new Abort();
  }
  const vars = bindDefArgs(cx.bag, def, args);
  if (!vars) return undefined;
  const inner: Frame = { vars, scope: "", depth: frame.depth + 1, inDef: true, def: def.name.name, callSite: frame.callSite ?? e.callee.span };
  if (!bindDefaults(cx, def, e, inner)) return undefined;
  inner.scope = `${frame.scope}${cx.graph.defScope(def.name.name)}`;
  cx.run(def.body, inner);
  if (!inner.returned) {
    cx.bag.error(Codes.MissingReturn, `\`${def.name.name}\` returned nothing`, e.span, { related: [{ message: "add `return …` to this def", span: def.name.span }] });
    return undefined;
  }
  return inner.returned.kind === "poison" ? undefined : inner.returned;
}

/** Gives each parameter the call left out its default, evaluated in the def's frame, in order. */
function bindDefaults(cx: BodyContext, def: DefDecl, e: CallExpr, inner: Frame): boolean {
  for (const p of def.params) {
    if (inner.vars.has(p.name.name)) continue;
    if (!p.default) {
      cx.bag.error(Codes.MissingArgument, `\`${def.name.name}\` needs a value for \`${p.name.name}\``, e.span, { related: [{ message: `\`${def.name.name}\` is defined here`, span: def.name.span }] });
      return false;
    }
    const d = cx.expr(p.default, inner);
    if (!d) return false;
    inner.vars.set(p.name.name, d);
  }
  return true;
}
