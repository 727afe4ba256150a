/**
 * Routing rules at run time. A rule is a target exit and a test over an `ExitView` of one sample.
 * The generated `edge/router.ts` spells the spec's rules out as code; `rulesFromManifest` builds the
 * same rules from manifest.json. Both read their thresholds from the manifest.
 */
import type { Manifest } from "./manifest.js";
import { holds, routingThresholds, thresholdValue, type ClassSet, type Condition, type Measure } from "./conditions.js";
import { Codes, MeanetError } from "../diagnostics/index.js";

/** The exits of one sample as routing conditions read them. */
export interface ExitView {
  measure(measure: Measure, exit: string): number;
  argmaxIn(exit: string, set: ClassSet): boolean;
}

export interface Rule {
  target: string;
  /** Absent for `otherwise`. */
  when?: (x: ExitView) => boolean;
}

/** Thrown by a view when a condition reads an exit not computed yet for this sample; the router computes it and asks again. */
export class NeedExit {
  constructor(readonly exit: string) {}
}

/** Thrown by a view when a condition reads an exit that cannot be had (the cloud is down): the rule does not hold. */
export class ExitUnavailable {
  constructor(readonly exit: string) {}
}

/** The manifest's thresholds as numbers, in the order of routingThresholds; a threshold not yet calibrated is an error. */
export function thresholdsOf(manifest: Pick<Manifest, "routing">): number[] {
  const rules = manifest.routing as { when: Condition | null }[];
  return routingThresholds(rules).map((t, i) => {
    const v = thresholdValue(t);
    if (typeof v === "number") return v;
    throw new MeanetError(Codes.BuildInvalid, `routing threshold ${i + 1}: ${v.missing}; run \`meanet eval\` on the build to calibrate it on the validation split, or give the rule a number`);
  });
}


/** The manifest's routing rules, interpreted; `thresholds` replaces the manifest's values (in routingThresholds order). */
export function rulesFromManifest(manifest: Pick<Manifest, "routing">, thresholds: readonly number[] = thresholdsOf(manifest)): Rule[] {
  let next = 0;
  const build = (c: Condition): ((x: ExitView) => boolean) => {
    switch (c.kind) {
      case "threshold": {
        const t = thresholds[next++]!;
        const { measure, exit } = c.measure;
        return (x) => holds(c.op, x.measure(measure, exit), t);
      }
      case "versus":
        return (x) => holds(c.op, x.measure(c.left.measure, c.left.exit), x.measure(c.right.measure, c.right.exit));
      case "argmax_in":
        return (x) => x.argmaxIn(c.exit, c.set);
      case "and": {
        const [l, r] = [build(c.left), build(c.right)];
        return (x) => l(x) && r(x);
      }
      case "or": {
        const [l, r] = [build(c.left), build(c.right)];
        return (x) => l(x) || r(x);
      }
      case "not": {
        const o = build(c.operand);
        return (x) => !o(x);
      }
    }
  };
  return (manifest.routing as { target: string; when: Condition | null }[]).map((r) => (r.when ? { target: r.target, when: build(r.when) } : { target: r.target }));
}

/**
 * The first rule that holds. With `skip`, rules whose target is skipped are passed over and a
 * condition that reads an unavailable exit does not hold: the edge's own answer when the cloud is down.
 */
export function decide(rules: readonly Rule[], x: ExitView, skip?: ReadonlySet<string>): string | undefined {
  for (const r of rules) {
    if (skip?.has(r.target)) continue;
    if (!r.when) return r.target;
    try {
      if (r.when(x)) return r.target;
    } catch (e) {
      if (skip && e instanceof ExitUnavailable) continue;
      throw e;
    }
  }
  return undefined;
}
