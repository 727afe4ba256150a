import { closest, Codes, didYouMean } from "../../diagnostics/index.js";
import type { Expr, RouteDecl } from "../../parser/index.js";
import type { ClassSet, Condition, IrBlock, IrExit, Measure, MeasureRef, RouteRuleIr, Threshold } from "../graph.js";
import type { SectionReader } from "./context.js";

export const MEASURES: readonly Measure[] = ["entropy", "normalized_entropy", "max_prob", "margin", "hard_mass", "defer"];
export const CALIBRATION_METRICS = ["cloud_fraction", "energy", "latency", "accuracy"] as const;
const COMPARISONS = ["<", "<=", ">", ">="] as const;
type Comparison = (typeof COMPARISONS)[number];

/** Lowers `route { target when condition … target otherwise }` against the known exits. */
export function lowerRouting(decls: RouteDecl[], exits: IrExit[], blocks: IrBlock[], labels: string[], r: SectionReader): RouteRuleIr[] {
  for (let i = 1; i < decls.length; i++) r.bag.error(Codes.DuplicateDeclaration, "`route` is declared twice", decls[i]!.span);
  const decl = decls[0];
  if (!decl) {
    if (exits.length > 1) {
      r.bag.error(Codes.RouteIncomplete, `the model has ${exits.length} exits but no \`route\` section saying which input leaves where`, exits[1]!.span, {
        hint: `add e.g. \`${exampleRoute(exits, blocks)}\``,
      });
    }
    return exits.length === 1 ? [{ target: exits[0]!.name, when: undefined, span: exits[0]!.span }] : [];
  }
  const names = exits.map((e) => e.name);
  const rules: RouteRuleIr[] = [];
  let sawOtherwise = false;
  for (const rule of decl.rules) {
    if (!rule.target.name) continue;
    if (sawOtherwise) {
      r.bag.warning(Codes.UnusedValue, "this rule is never reached: an `otherwise` rule comes before it", rule.span);
      continue;
    }
    if (!names.includes(rule.target.name)) {
      if (!rule.condition) sawOtherwise = true;
      r.bag.error(Codes.UnknownRouteTarget, `a route leads to an exit, and there is no exit \`${rule.target.name}\``, rule.target.span, {
        hint: didYouMean(rule.target.name, names) ?? `exits: ${names.join(", ")}`,
      });
      continue;
    }
    if (!rule.condition) {
      sawOtherwise = true;
      rules.push({ target: rule.target.name, when: undefined, span: rule.span });
      continue;
    }
    const c = condition(rule.condition, names, labels, r);
    if (c) rules.push({ target: rule.target.name, when: c, span: rule.span });
  }
  if (!sawOtherwise) {
    r.bag.error(Codes.RouteIncomplete, "the route has no `otherwise` rule, so some inputs would have no exit", decl.span, { hint: `end the route with e.g. \`${fallbackExit(exits, blocks)?.name ?? "main"} otherwise\`` });
  }
  return rules;
}

/** The exit an example route ends with: the last one off the edge (the cloud's), else the last one. */
function fallbackExit(exits: IrExit[], blocks: IrBlock[]): IrExit | undefined {
  const offEdge = exits.filter((x) => blocks.find((b) => b.name === x.block)?.placement !== "edge");
  return offEdge[offEdge.length - 1] ?? exits[exits.length - 1];
}

/** A route over the spec's own exits: each leaves when it is confident, in order, the fallback takes the rest. */
function exampleRoute(exits: IrExit[], blocks: IrBlock[]): string {
  const last = fallbackExit(exits, blocks)!;
  const rules = exits.filter((x) => x !== last).map((x) => `${x.name} when max_prob(${x.name}) >= 0.8`);
  return `route { ${[...rules, `${last.name} otherwise`].join("  ")} }`;
}

function condition(e: Expr, exits: string[], labels: string[], r: SectionReader): Condition | undefined {
  if (e.kind === "binary" && (e.op === "and" || e.op === "or")) {
    const left = condition(e.left, exits, labels, r);
    const right = condition(e.right, exits, labels, r);
    return left && right ? { kind: e.op, left, right } : undefined;
  }
  if (e.kind === "unary" && e.op === "not") {
    const operand = condition(e.operand, exits, labels, r);
    return operand ? { kind: "not", operand } : undefined;
  }
  if (e.kind === "binary" && e.op === "in") {
    if (e.left.kind !== "call" || e.left.callee.kind !== "name" || e.left.callee.name !== "argmax") {
      r.bag.error(Codes.BadRouteCondition, "`in` tests the predicted class: write `argmax(exit) in easy`", e.left.span);
      return undefined;
    }
    const exit = exitArg(e.left, exits, r);
    const set = classSet(e.right, labels, r);
    return exit && set ? { kind: "argmax_in", exit, set } : undefined;
  }
  if (e.kind === "binary" && (COMPARISONS as readonly string[]).includes(e.op)) {
    const left = measure(e.left, exits, r);
    if (!left) return undefined;
    const op = e.op as Comparison;
    if (e.right.kind === "call" && e.right.callee.kind === "name" && (MEASURES as readonly string[]).includes(e.right.callee.name)) {
      const right = measure(e.right, exits, r);
      return right ? { kind: "versus", left, op, right } : undefined;
    }
    const t = threshold(e.right, r);
    return t ? { kind: "threshold", measure: left, op, threshold: t } : undefined;
  }
  r.bag.error(Codes.BadRouteCondition, "a route condition compares a confidence measure, e.g. `entropy(main) > 0.8`, or tests `argmax(main) in easy`", e.span);
  return undefined;
}

function exitArg(call: Extract<Expr, { kind: "call" }>, exits: string[], r: SectionReader): string | undefined {
  const a = call.args[0];
  if (call.args.length !== 1 || !a || a.key || a.value.kind !== "name") {
    r.bag.error(Codes.BadRouteCondition, "name one exit here, e.g. `(main)`", call.span);
    return undefined;
  }
  if (!exits.includes(a.value.name)) {
    r.bag.error(Codes.UnknownRouteTarget, `there is no exit \`${a.value.name}\``, a.value.span, { hint: didYouMean(a.value.name, exits) ?? `exits: ${exits.join(", ")}` });
    return undefined;
  }
  return a.value.name;
}

function measure(e: Expr, exits: string[], r: SectionReader): MeasureRef | undefined {
  if (e.kind !== "call" || e.callee.kind !== "name") {
    r.bag.error(Codes.BadRouteCondition, `the left side of a comparison is a confidence measure: ${MEASURES.map((m) => `\`${m}(exit)\``).join(", ")}`, e.span);
    return undefined;
  }
  const name = e.callee.name;
  if (!(MEASURES as readonly string[]).includes(name)) {
    r.bag.error(Codes.UnknownFunction, `unknown confidence measure \`${name}\``, e.callee.span, { hint: didYouMean(name, MEASURES) ?? `measures: ${MEASURES.join(", ")}` });
    return undefined;
  }
  if (name === "defer") return deferArgs(e, exits, r);
  const exit = exitArg(e, exits, r);
  return exit ? { measure: name as Measure, exit } : undefined;
}

/** `defer(exit, …)`: the learned deferral model over one or more distinct exits. */
function deferArgs(call: Extract<Expr, { kind: "call" }>, exits: string[], r: SectionReader): MeasureRef | undefined {
  if (!call.args.length) {
    r.bag.error(Codes.BadRouteCondition, "`defer` reads one or more exits, e.g. `defer(main)` or `defer(main, extension)`", call.span);
    return undefined;
  }
  const names: string[] = [];
  for (const a of call.args) {
    if (a.key || a.value.kind !== "name") {
      r.bag.error(Codes.BadRouteCondition, "`defer` takes exit names, e.g. `defer(main, extension)`", a.value.span);
      return undefined;
    }
    const name = a.value.name;
    if (!exits.includes(name)) {
      r.bag.error(Codes.UnknownRouteTarget, `there is no exit \`${name}\``, a.value.span, { hint: didYouMean(name, exits) ?? `exits: ${exits.join(", ")}` });
      return undefined;
    }
    if (names.includes(name)) {
      r.bag.error(Codes.BadRouteCondition, `\`${name}\` is listed twice`, a.value.span);
      return undefined;
    }
    names.push(name);
  }
  return { measure: "defer", exit: names[0]!, exits: names };
}

function threshold(e: Expr, r: SectionReader): Threshold | undefined {
  if (e.kind === "number") {
    if (e.unit) {
      r.bag.error(Codes.WrongUnit, "a threshold is a plain number", e.span);
      return undefined;
    }
    return { kind: "value", value: e.value };
  }
  const c = r.call(e, "threshold", ["calibrate"]);
  if (!c) return undefined;
  r.checkArgs(c, CALIBRATION_METRICS, "calibrate");
  const entries = [...c.args.entries()].filter(([k]) => (CALIBRATION_METRICS as readonly string[]).includes(k));
  if (entries.length !== 1) {
    r.bag.error(Codes.BadValue, "`calibrate` takes exactly one target, e.g. `calibrate(cloud_fraction: 0.25)`", c.span, { hint: `targets: ${CALIBRATION_METRICS.join(", ")}` });
    return undefined;
  }
  const [metric, valueExpr] = entries[0]!;
  const dimension = metric === "energy" ? "energy" : metric === "latency" ? "time" : "none";
  const value = dimension === "none" ? r.fraction(valueExpr, `\`${metric}\``) : r.quantity(valueExpr, dimension, `\`${metric}\``);
  return value === undefined ? undefined : { kind: "calibrate", metric, value };
}

/** `all`, `hard`, `easy` or a list of label strings. */
export function classSet(e: Expr, labels: string[], r: SectionReader): ClassSet | undefined {
  if (e.kind === "name" && (e.name === "all" || e.name === "hard" || e.name === "easy")) return { kind: e.name };
  if (e.kind === "list") {
    const items = r.strings(e, "a class list");
    if (!items) return undefined;
    const out: string[] = [];
    for (const it of items) {
      if (!labels.includes(it.value)) {
        r.bag.error(Codes.UnknownLabel, `\`${it.value}\` is not one of the labels`, it.span, { hint: didYouMean(it.value, labels) });
        return undefined;
      }
      if (out.includes(it.value)) {
        r.bag.error(Codes.DuplicateLabel, `\`${it.value}\` is listed twice`, it.span);
        return undefined;
      }
      out.push(it.value);
    }
    if (out.length === 0) {
      r.bag.error(Codes.BadExitClasses, "the class list is empty", e.span);
      return undefined;
    }
    return { kind: "labels", labels: out };
  }
  const got = e.kind === "string" ? `the string "${e.value}"` : `\`${sourceText(e)}\``;
  r.bag.error(Codes.BadExitClasses, `classes are \`all\`, \`hard\`, \`easy\` or a list of labels such as \`["Shirt", "Coat"]\`, not ${got}`, e.span, { hint: classSetHint(e, labels) });
  return undefined;
}

/** What was probably meant instead of a class set: a close class word, or a label written as a one-element list. */
function classSetHint(e: Expr, labels: string[]): string | undefined {
  const word = e.kind === "name" ? e.name : e.kind === "string" ? e.value : undefined;
  if (word === undefined) return undefined;
  if (e.kind === "name") {
    const set = closest(word, CLASS_WORDS);
    if (set) return `did you mean \`${set}\`?`;
  }
  const label = labels.includes(word) ? word : closest(word, labels);
  return label === undefined ? undefined : `did you mean the label list \`[${JSON.stringify(label)}]\`?`;
}

const CLASS_WORDS = ["all", "hard", "easy"];

function sourceText(e: Expr): string {
  const text = e.span.source.text.slice(e.span.start, e.span.end).replace(/\s+/g, " ");
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}
