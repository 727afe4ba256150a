import { Codes, type DiagnosticBag, didYouMean, type Span } from "../../diagnostics/index.js";
import type { Argument, CallExpr, DefDecl } from "../../parser/index.js";
import type { AttrValue } from "../graph.js";
import { isRequired, type OpDef, type ParamSpec } from "../ops/index.js";
import type { OpInput } from "./nodes.js";
import { describeValue, type Value } from "./values.js";

/** An evaluated argument of a call, with how it was written. */
export interface CallArg {
  key: string | undefined;
  keySpan: Span;
  value: Value;
  span: Span;
  text: string;
}

/** Reports a bare word that names nothing, where a value was needed. */
export type UnknownName = (name: string, span: Span) => void;

export function callArg(a: Argument, value: Value): CallArg {
  return { key: a.key?.name, keySpan: a.key?.span ?? a.value.span, value, span: a.value.span, text: sourceText(a.value.span) };
}

/** Binds a def's arguments to its parameters, positional ones in order; parameters left out are absent. */
export function bindDefArgs(bag: DiagnosticBag, def: DefDecl, args: CallArg[]): Map<string, Value> | undefined {
  const vars = new Map<string, Value>();
  const params = def.params.map((p) => p.name.name);
  let positional = 0;
  for (const a of args) {
    if (a.key === undefined) {
      const p = params[positional++];
      if (p === undefined) {
        bag.error(Codes.UnknownArgument, `\`${def.name.name}\` takes ${params.length} argument${params.length === 1 ? "" : "s"}, but more were given`, a.span);
        return undefined;
      }
      vars.set(p, a.value);
    } else {
      if (!params.includes(a.key)) {
        bag.error(Codes.UnknownArgument, `\`${def.name.name}\` has no parameter \`${a.key}\``, a.keySpan, { hint: didYouMean(a.key, params) ?? `its parameters: ${params.join(", ")}` });
        return undefined;
      }
      if (vars.has(a.key)) {
        bag.error(Codes.DuplicateName, `parameter \`${a.key}\` of \`${def.name.name}\` is given twice`, a.keySpan);
        return undefined;
      }
      vars.set(a.key, a.value);
    }
  }
  return vars;
}

/**
 * Binds an op call's arguments: its tensor inputs first, then its parameters, positional and named.
 * Parameters left out take their defaults.
 */
export function bindOpArgs(bag: DiagnosticBag, op: OpDef, e: CallExpr, args: CallArg[], unknownName: UnknownName): { inputs: OpInput[]; attrs: Record<string, AttrValue> } | undefined {
  const positional = args.filter((a) => a.key === undefined);
  const taken = op.tensorInputs === "variadic" ? takeVariadic(bag, op, e, positional, unknownName) : takeFixed(bag, op, op.tensorInputs, e, positional, unknownName);
  if (!taken) return undefined;
  const given = matchParams(bag, op, taken.rest, args.filter((a) => a.key !== undefined));
  if (!given) return undefined;
  const attrs = opAttrs(bag, op, e, given, unknownName);
  return attrs && { inputs: taken.inputs, attrs };
}

interface Taken {
  inputs: OpInput[];
  /** The positional arguments after the tensors. */
  rest: CallArg[];
}

/** Two or more tensors, given one by one or as lists, up to the first argument that is neither. */
function takeVariadic(bag: DiagnosticBag, op: OpDef, e: CallExpr, positional: CallArg[], unknownName: UnknownName): Taken | undefined {
  const inputs: OpInput[] = [];
  const firstNonTensor = positional.findIndex((a) => a.value.kind !== "tensor" && a.value.kind !== "list");
  const tensorArgs = firstNonTensor < 0 ? positional : positional.slice(0, firstNonTensor);
  for (const a of tensorArgs) {
    if (a.value.kind === "list") {
      for (const item of a.value.items) if (!takeTensor(bag, op, { ...a, value: item }, inputs, unknownName)) return undefined;
    } else if (!takeTensor(bag, op, a, inputs, unknownName)) return undefined;
  }
  if (firstNonTensor >= 0 && inputs.length < 2) {
    takeTensor(bag, op, positional[firstNonTensor]!, inputs, unknownName);
    return undefined;
  }
  if (inputs.length < 2) {
    bag.error(Codes.MissingArgument, `\`${op.name}\` needs at least two tensors`, e.span);
    return undefined;
  }
  return { inputs, rest: firstNonTensor < 0 ? [] : positional.slice(firstNonTensor) };
}

function takeFixed(bag: DiagnosticBag, op: OpDef, count: number, e: CallExpr, positional: CallArg[], unknownName: UnknownName): Taken | undefined {
  const inputs: OpInput[] = [];
  for (let i = 0; i < count; i++) {
    const a = positional[i];
    if (!a) {
      const more = op.params[0] && isRequired(op.params[0]) ? ", …" : "";
      bag.error(Codes.MissingArgument, `\`${op.name}\` needs an input tensor`, e.span, { hint: `write \`${op.name}(x${more})\`` });
      return undefined;
    }
    if (!takeTensor(bag, op, a, inputs, unknownName)) return undefined;
  }
  return { inputs, rest: positional.slice(count) };
}

function takeTensor(bag: DiagnosticBag, op: OpDef, a: CallArg, inputs: OpInput[], unknownName: UnknownName): boolean {
  if (a.value.kind === "tensor") {
    inputs.push({ value: a.value, text: a.text, span: a.span });
    return true;
  }
  if (a.value.kind === "word") unknownName(a.value.name, a.span);
  else bag.error(Codes.TypeMismatch, `\`${op.name}\` expects a tensor here, not ${describeValue(a.value)}`, a.span);
  return false;
}

/** Matches the arguments after the tensors to the op's parameters: positional ones in order, then named ones. */
function matchParams(bag: DiagnosticBag, op: OpDef, rest: CallArg[], named: CallArg[]): Map<string, CallArg> | undefined {
  if (rest.length > op.params.length) {
    const names = op.params.length ? ` (${op.params.map((p) => p.name).join(", ")})` : "";
    bag.error(Codes.UnknownArgument, `\`${op.name}\` takes at most ${op.params.length} argument${op.params.length === 1 ? "" : "s"} after its input${names}`, rest[op.params.length]!.span);
    return undefined;
  }
  const given = new Map<string, CallArg>();
  rest.forEach((a, i) => given.set(op.params[i]!.name, a));
  for (const a of named) {
    const p = op.params.find((q) => q.name === a.key);
    if (!p) {
      const known = op.params.length ? `its arguments: ${op.params.map((q) => q.name).join(", ")}` : `\`${op.name}\` takes no arguments`;
      bag.error(Codes.UnknownArgument, `\`${op.name}\` has no argument \`${a.key}\``, a.keySpan, { hint: didYouMean(a.key!, op.params.map((q) => q.name)) ?? known });
      return undefined;
    }
    if (given.has(p.name)) {
      bag.error(Codes.DuplicateName, `argument \`${p.name}\` of \`${op.name}\` is given twice`, a.keySpan);
      return undefined;
    }
    given.set(p.name, a);
  }
  return given;
}

/** The node's attributes: each given argument checked against its parameter, defaults for the rest. */
function opAttrs(bag: DiagnosticBag, op: OpDef, e: CallExpr, given: Map<string, CallArg>, unknownName: UnknownName): Record<string, AttrValue> | undefined {
  const attrs: Record<string, AttrValue> = {};
  for (const p of op.params) {
    const g = given.get(p.name);
    if (!g) {
      if (isRequired(p)) {
        bag.error(Codes.MissingArgument, `\`${op.name}\` needs \`${p.name}\``, e.span, { hint: `e.g. \`${op.name}(x, ${p.name}: …)\`` });
        return undefined;
      }
      if (p.default !== undefined) attrs[p.name] = p.default;
      continue;
    }
    const v = attrValue(bag, op.name, p, g.value, g.span, unknownName);
    if (v === undefined) return undefined;
    attrs[p.name] = v;
  }
  return attrs;
}

function attrValue(bag: DiagnosticBag, opName: string, p: ParamSpec, v: Value, span: Span, unknownName: UnknownName): AttrValue | undefined {
  const fail = (want: string): undefined => {
    if (v.kind === "word" && p.kind !== "padding" && p.kind !== "enum") unknownName(v.name, span);
    else bag.error(Codes.BadValue, `\`${p.name}\` of \`${opName}\` must be ${want}, not ${describeValue(v)}`, span, { hint: v.kind === "word" && p.values ? didYouMean(v.name, p.values) : v.kind === "word" && p.kind === "padding" ? didYouMean(v.name, ["same", "valid"]) : undefined });
    return undefined;
  };
  switch (p.kind) {
    case "bool":
      if (v.kind === "bool") return v.value;
      bag.error(Codes.BadValue, `\`${p.name}\` of \`${opName}\` must be \`true\` or \`false\`, not ${describeValue(v)}`, span);
      return undefined;
    case "enum":
      return v.kind === "word" && p.values!.includes(v.name) ? v.name : fail(`one of ${p.values!.join(", ")}`);
    case "padding":
      if (v.kind === "word" && (v.name === "same" || v.name === "valid")) return v.name;
      if (v.kind === "number" && Number.isInteger(v.value) && v.value >= 0 && !v.unit) return v.value;
      if (v.kind === "string" && (v.value === "same" || v.value === "valid")) {
        bag.error(Codes.BadValue, `\`padding\` of \`${opName}\` is a word, not a string`, span, { hint: `write \`padding: ${v.value}\` without quotes` });
        return undefined;
      }
      return fail("`same`, `valid` or a whole number of pixels");
    case "int":
    case "number": {
      if (v.kind !== "number" || v.unit) return fail(p.kind === "int" ? "a whole number" : "a number");
      if (p.kind === "int" && !Number.isInteger(v.value)) return fail("a whole number");
      if ((p.min !== undefined && v.value < p.min) || (p.max !== undefined && v.value > p.max)) {
        bag.error(Codes.BadValue, `\`${p.name}\` of \`${opName}\` must be ${p.max === undefined ? `≥ ${p.min}` : `between ${p.min ?? "-∞"} and ${p.max}`}, got ${v.value}`, span);
        return undefined;
      }
      return v.value;
    }
  }
}

function sourceText(span: Span): string {
  const t = span.source.text.slice(span.start, span.end).replace(/\s+/g, " ");
  return t.length > 40 ? t.slice(0, 37) + "…" : t;
}
