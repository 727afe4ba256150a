/**
 * The spec's evaluation assertions (dsl/reference.md §13) measured on the evaluated split:
 * `accuracy`, `cloud_fraction`, `energy` and `latency` of the routed system, `EXIT.fraction` of the
 * inputs the routed system answers at an exit, and `EXIT.accuracy` of an exit on every input of its
 * classes (what `meanet train` reports for the exit).
 */
import type { AssertionOutcome, SystemFigures } from "../../format/eval.js";
import type { IrJson } from "../../format/ir.js";
import { holds } from "../../format/conditions.js";
import { metricOf } from "./calibrate.js";

export function evalMetric(metric: string, routed: SystemFigures, standalone: ReadonlyMap<string, number>, cloudExits: ReadonlySet<string>): number | null {
  if (metric === "accuracy" || metric === "cloud_fraction" || metric === "energy" || metric === "latency") return metricOf(metric, routed, cloudExits);
  const m = /^(.+)\.(accuracy|fraction)$/.exec(metric);
  if (!m) return null;
  const [, exit, what] = m;
  if (what === "fraction") return routed.fractions[exit!] ?? null;
  return standalone.get(exit!) ?? null;
}

export function checkEvalAssertions(ir: Pick<IrJson, "assertions">, routed: SystemFigures, standalone: ReadonlyMap<string, number>, cloudExits: ReadonlySet<string>): AssertionOutcome[] {
  return ir.assertions
    .filter((a) => a.when === "eval")
    .map((a) => {
      const value = evalMetric(a.metric, routed, standalone, cloudExits);
      return {
        text: a.text,
        loc: a.loc,
        metric: a.metric,
        op: a.op,
        bound: a.value,
        value,
        status: value === null ? "unmeasured" : holds(a.op as Parameters<typeof holds>[0], value, a.value) ? "passed" : "failed",
      };
    });
}
