import { Codes, type DiagnosticBag, type Span } from "../../diagnostics/index.js";
import type { CallExpr } from "../../parser/index.js";
import { Abort } from "./frame.js";
import type { GraphStore } from "./nodes.js";
import type { Value } from "./values.js";

export const BUILTINS = ["channels", "height", "width", "grad", "min", "max"] as const;

export function isBuiltin(name: string): boolean {
  return (BUILTINS as readonly string[]).includes(name);
}

/** `min`/`max` of numbers; `grad(t)` lets the gradient through a read; `channels`, `height`, `width` of a tensor's shape. */
export function callBuiltin(bag: DiagnosticBag, store: GraphStore, name: string, e: CallExpr, args: { value: Value; span: Span }[]): Value | undefined {
  if (name === "min" || name === "max") {
    if (args.length === 0 || args.some((a) => a.value.kind !== "number")) {
      bag.error(Codes.TypeMismatch, `\`${name}\` takes one or more numbers`, e.span);
      return undefined;
    }
    const nums = args.map((a) => (a.value as { value: number }).value);
    return { kind: "number", value: name === "min" ? Math.min(...nums) : Math.max(...nums), unit: undefined };
  }
  const t = args[0]?.value;
  if (args.length !== 1 || !t || t.kind !== "tensor") {
    bag.error(Codes.TypeMismatch, `\`${name}\` takes exactly one tensor`, e.span);
    return undefined;
  }
  if (name === "grad") return { ...t, gradient: true };
  const shape = store.shapes[t.id];
  // The tensor's shape failed (already reported): what depends on it cannot be decided.
  if (!shape) throw new Abort();
  const axis = name === "channels" ? shape.length - 1 : name === "height" ? 0 : 1;
  if (shape.length !== 3 && name !== "channels") {
    bag.error(Codes.RankMismatch, `\`${name}\` needs a feature map H×W×C, but \`${args[0]!.span.source.text.slice(args[0]!.span.start, args[0]!.span.end)}\` is ${shape.join("×")}`, e.span);
    return undefined;
  }
  return { kind: "number", value: shape[axis]!, unit: undefined };
}
