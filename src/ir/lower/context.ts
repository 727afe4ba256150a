import { Codes, DiagnosticBag, didYouMean, type Span } from "../../diagnostics/index.js";
import type { Expr, Property } from "../../parser/index.js";
import { DIMENSION_EXAMPLE, UNIT_SCALE } from "./values.js";

/** A configuration call such as `adam(lr: 0.001)`: its name, named and positional arguments. */
export interface CallValue {
  name: string;
  args: Map<string, Expr>;
  keys: Map<string, Span>;
  positional: Expr[];
  span: Span;
}

/** Helpers shared by the lowering of each section: reading literal values with units, properties and words. */
export class SectionReader {
  constructor(readonly bag: DiagnosticBag) {}

  /** A number in base units; `dimension` says which units are allowed ("none" for a plain number). */
  quantity(e: Expr, dimension: string, what: string): number | undefined {
    if (e.kind !== "number") {
      this.bag.error(Codes.BadValue, `${what} must be a number${dimension === "none" ? "" : ` with a unit, e.g. ${DIMENSION_EXAMPLE[dimension]}`}`, e.span);
      return undefined;
    }
    if (!e.unit) return e.value;
    const u = UNIT_SCALE[e.unit];
    if (!u || u.dimension !== dimension) {
      const allowed = Object.entries(UNIT_SCALE)
        .filter(([, v]) => v.dimension === dimension)
        .map(([k]) => k);
      this.bag.error(Codes.WrongUnit, `${what} cannot be in \`${e.unit}\``, e.span, {
        hint: allowed.length ? `use one of ${allowed.map((a) => `\`${a}\``).join(", ")}` : "write a plain number",
      });
      return undefined;
    }
    return e.value * u.scale;
  }

  integer(e: Expr, what: string, min = 1): number | undefined {
    const v = this.quantity(e, "none", what);
    if (v === undefined) return undefined;
    if (!Number.isInteger(v) || v < min) {
      this.bag.error(Codes.BadValue, `${what} must be an integer ≥ ${min}, got ${v}`, e.span);
      return undefined;
    }
    return v;
  }

  fraction(e: Expr, what: string): number | undefined {
    const v = this.quantity(e, "none", what);
    if (v === undefined) return undefined;
    if (v < 0 || v > 1) {
      this.bag.error(Codes.BadValue, `${what} must lie in [0, 1], got ${v}`, e.span);
      return undefined;
    }
    return v;
  }

  /** A bare word out of a fixed set. */
  word<T extends string>(e: Expr, allowed: readonly T[], what: string): T | undefined {
    if (e.kind === "name" && (allowed as readonly string[]).includes(e.name)) return e.name as T;
    const got = e.kind === "name" ? `\`${e.name}\`` : "this expression";
    this.bag.error(Codes.BadValue, `${what} must be one of ${allowed.map((a) => `\`${a}\``).join(", ")}, not ${got}`, e.span, {
      hint: e.kind === "name" ? didYouMean(e.name, allowed) : undefined,
    });
    return undefined;
  }

  /** A list of bare names: `[main, adaptive]`; a single name is accepted as a one-element list. */
  names(e: Expr, what: string): { name: string; span: Span }[] | undefined {
    const elements = e.kind === "list" ? e.elements : [e];
    const out: { name: string; span: Span }[] = [];
    for (const el of elements) {
      if (el.kind !== "name") {
        this.bag.error(Codes.BadValue, `${what} must list names, e.g. \`[main, adaptive]\``, el.span);
        return undefined;
      }
      out.push({ name: el.name, span: el.span });
    }
    return out;
  }

  strings(e: Expr, what: string): { value: string; span: Span }[] | undefined {
    if (e.kind !== "list") {
      this.bag.error(Codes.BadValue, `${what} must be a list of strings, e.g. \`["Shirt", "Coat"]\``, e.span);
      return undefined;
    }
    const out: { value: string; span: Span }[] = [];
    for (const el of e.elements) {
      if (el.kind !== "string") {
        this.bag.error(Codes.BadValue, `${what} must contain strings only`, el.span);
        return undefined;
      }
      out.push({ value: el.value, span: el.span });
    }
    return out;
  }

  /**
   * Reads `key: value` properties against a table of known keys. Unknown keys and duplicates are
   * reported with a suggestion; each known key's reader is called once.
   */
  properties(props: Property[], known: Record<string, (value: Expr, prop: Property) => void>, where: string): void {
    const seen = new Map<string, Property>();
    for (const p of props) {
      if (!p.key.name) continue;
      const reader = known[p.key.name];
      if (!reader) {
        this.bag.error(Codes.UnknownProperty, `unknown property \`${p.key.name}\` in ${where}`, p.key.span, {
          hint: didYouMean(p.key.name, Object.keys(known)) ?? `known properties: ${Object.keys(known).join(", ")}`,
        });
        continue;
      }
      const prior = seen.get(p.key.name);
      if (prior) {
        this.bag.error(Codes.DuplicateName, `property \`${p.key.name}\` is given twice in ${where}`, p.key.span, {
          related: [{ message: "first given here", span: prior.key.span }],
        });
        continue;
      }
      seen.set(p.key.name, p);
      reader(p.value, p);
    }
  }

  /** A call such as `adam(lr: 0.001)`: its function name and named arguments. */
  call(e: Expr, what: string, allowed: readonly string[]): CallValue | undefined {
    if (e.kind === "name" && allowed.includes(e.name)) return { name: e.name, args: new Map(), keys: new Map(), positional: [], span: e.span };
    if (e.kind !== "call" || e.callee.kind !== "name") {
      this.bag.error(Codes.BadValue, `${what} must be one of ${allowed.map((a) => `\`${a}(…)\``).join(", ")}`, e.span);
      return undefined;
    }
    const name = e.callee.name;
    if (!allowed.includes(name)) {
      this.bag.error(Codes.UnknownFunction, `unknown ${what} \`${name}\``, e.callee.span, { hint: didYouMean(name, allowed) ?? `use one of ${allowed.join(", ")}` });
      return undefined;
    }
    const args = new Map<string, Expr>();
    const keys = new Map<string, Span>();
    const positional: Expr[] = [];
    for (const a of e.args) {
      if (a.key) {
        args.set(a.key.name, a.value);
        keys.set(a.key.name, a.key.span);
      } else positional.push(a.value);
    }
    return { name, args, keys, positional, span: e.span };
  }

  /** Reports named arguments outside `allowed`. */
  checkArgs(c: CallValue, allowed: readonly string[], fn: string): void {
    for (const [k, v] of c.args) {
      if (!allowed.includes(k)) {
        this.bag.error(Codes.UnknownArgument, `\`${fn}\` has no argument \`${k}\``, c.keys.get(k) ?? v.span, { hint: didYouMean(k, allowed) ?? `its arguments: ${allowed.join(", ")}` });
      }
    }
  }
}
