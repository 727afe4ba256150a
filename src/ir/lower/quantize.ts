import { Codes, didYouMean } from "../../diagnostics/index.js";
import { CALIBRATION_METHODS, DEFAULT_CALIBRATION, type Calibration, type CalibrationMethod } from "../../format/quantize.js";
import type { Argument, Expr, QuantizeDecl } from "../../parser/index.js";
import type { QuantizeIr } from "../graph.js";
import type { SectionReader } from "./context.js";

const METHODS = "`minmax`, `mse`, `percentile` or `percentile(P)`";

/** Why a method takes no argument, and what to write instead. */
const NO_ARGUMENTS: Record<Exclude<CalibrationMethod, "percentile">, string> = {
  minmax: "`minmax` takes the whole observed range; to clip outliers, write `calibration: percentile(99.99)`",
  mse: "`mse` chooses its clipping range itself; write `calibration: mse`",
};

/**
 * Lowers `quantize { calibration: percentile(99.99)  images: 256 }`: how export calibrates the
 * activation ranges of partitions on int8 devices. A key left out takes its value from
 * DEFAULT_CALIBRATION; without the section there is nothing to lower (ir.json then has no `quantize`).
 */
export function lowerQuantize(decl: QuantizeDecl | undefined, r: SectionReader): QuantizeIr | undefined {
  if (!decl) return undefined;
  const q: QuantizeIr = { ...DEFAULT_CALIBRATION, span: decl.span };
  r.properties(
    decl.properties,
    {
      calibration: (v) => {
        const c = calibration(v, r);
        if (c) [q.method, q.percentile] = [c.method, c.percentile];
      },
      images: (v) => (q.images = images(v, r) ?? q.images),
    },
    "`quantize`",
  );
  return q;
}

/** `minmax`, `mse`, `percentile` or `percentile(P)`, each also as an empty call (`minmax()`). */
function calibration(v: Expr, r: SectionReader): Pick<Calibration, "method" | "percentile"> | undefined {
  const callee = v.kind === "call" ? v.callee : v;
  if (callee.kind !== "name") {
    const quoted = v.kind === "string" && (CALIBRATION_METHODS as readonly string[]).includes(v.value) ? v.value : undefined;
    r.bag.error(Codes.BadQuantize, `\`calibration\` must be ${METHODS}`, v.span, {
      hint: quoted ? `write the method without quotes: \`calibration: ${quoted}\`` : "e.g. `calibration: percentile(99.99)`",
    });
    return undefined;
  }
  const method = CALIBRATION_METHODS.find((m) => m === callee.name);
  if (!method) {
    r.bag.error(Codes.BadQuantize, `unknown calibration method \`${callee.name}\``, callee.span, {
      hint: didYouMean(callee.name, CALIBRATION_METHODS) ?? `write ${METHODS}`,
    });
    return undefined;
  }
  const args = v.kind === "call" ? v.args : [];
  if (method !== "percentile") {
    if (args.length > 0) r.bag.error(Codes.UnknownArgument, `\`${method}\` takes no arguments`, args[0]!.span, { hint: NO_ARGUMENTS[method] });
    return { method, percentile: DEFAULT_CALIBRATION.percentile };
  }
  return { method, percentile: percentile(args, r) ?? DEFAULT_CALIBRATION.percentile };
}

/** The one unnamed argument of `percentile(P)`, in (0, 100]; none gives the default. */
function percentile(args: Argument[], r: SectionReader): number | undefined {
  for (const a of args) {
    if (a.key) r.bag.error(Codes.UnknownArgument, "`percentile` has no named arguments", a.key.span, { hint: "write the percentile alone, e.g. `percentile(99.99)`" });
  }
  for (const extra of args.slice(1)) {
    if (!extra.key) r.bag.error(Codes.UnknownArgument, "`percentile` takes one number, the percentile", extra.span);
  }
  const arg = args[0];
  if (!arg || arg.key) return undefined;
  const p = r.quantity(arg.value, "none", "the percentile");
  if (p === undefined) return undefined;
  if (!(p > 0 && p <= 100)) {
    r.bag.error(Codes.BadQuantize, `the percentile must lie in (0, 100], got ${p}`, arg.value.span, {
      hint: "it is a percentage: `percentile(99.99)` clips the rarest outliers, `percentile(100)` keeps the whole observed range as `minmax` does",
    });
    return undefined;
  }
  return p;
}

/** How many held-out images calibrate the ranges: a whole number ≥ 1. */
function images(v: Expr, r: SectionReader): number | undefined {
  const n = r.quantity(v, "none", "`images`");
  if (n === undefined) return undefined;
  if (!Number.isSafeInteger(n) || n < 1) {
    r.bag.error(Codes.BadQuantize, `\`images\` must be a whole number ≥ 1, got ${n}`, v.span, {
      hint: "the number of held-out validation images that calibrate the ranges, e.g. `images: 256`",
    });
    return undefined;
  }
  return n;
}
