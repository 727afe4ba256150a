/**
 * The routing thresholds as places in the rule: which condition each belongs to, so that one can be
 * swept or calibrated while the others keep their values. Numbered like routingThresholds.
 */
import type { Manifest } from "../../format/manifest.js";
import { conditionText, measureText, type Condition, type Measure, type RecordedThreshold } from "../../format/conditions.js";
import { measureOf } from "../../format/measures.js";
import { rulesFromManifest, type Rule } from "../../format/rules.js";
import { routedAnswers, type Answer } from "./systems.js";
import type { ExitOutputs } from "./outputs.js";
import { Codes, MeanetError } from "../../diagnostics/index.js";

export interface ThresholdSite {
  index: number;
  /** The rule's target exit. */
  target: string;
  measure: string;
  exit: string;
  /** The measure as the spec writes it, e.g. `defer(main, extension)`. */
  text: string;
  op: string;
  threshold: RecordedThreshold;
}

/** Every threshold of the rules, depth first and left before right (the routingThresholds order). */
export function thresholdSites(routing: Manifest["routing"]): ThresholdSite[] {
  const sites: ThresholdSite[] = [];
  const walk = (c: Condition | null | undefined, target: string): void => {
    if (!c) return;
    switch (c.kind) {
      case "threshold":
        sites.push({ index: sites.length, target, measure: c.measure.measure, exit: c.measure.exit, text: measureText(c.measure), op: c.op, threshold: c.threshold as RecordedThreshold });
        return;
      case "and":
      case "or":
        walk(c.left, target);
        return walk(c.right, target);
      case "not":
        return walk(c.operand, target);
      default:
        return;
    }
  };
  for (const r of routing as { target: string; when: Condition | null }[]) walk(r.when, r.target);
  return sites;
}

/** Values of one site's measure, per input. */
export function siteMeasure(out: ExitOutputs, site: ThresholdSite): (row: number) => number {
  if (site.measure === "defer") {
    const scores = out.defer?.scores;
    if (!scores) throw new MeanetError(Codes.BuildInvalid, "the routing rules read `defer(…)`, and this build has no deferral model; run `meanet export` again");
    return (row) => scores[row]!;
  }
  const x = out.exits.get(site.exit)!;
  return (row) => measureOf(site.measure as Exclude<Measure, "defer">, x.probs, row * x.k, x.k, x.hard);
}

export function siteText(s: ThresholdSite): string {
  return `${s.text} ${s.op} t`;
}

/** The rules as text, with the thresholds given. */
export function ruleText(routing: Manifest["routing"], thresholds: readonly (number | null)[]): string[] {
  let i = 0;
  const withValues = (c: Condition): Condition => {
    switch (c.kind) {
      case "threshold": {
        const t = thresholds[i++];
        return t === null || t === undefined ? c : { ...c, threshold: { kind: "value", value: Number(t.toPrecision(6)) } };
      }
      case "and":
      case "or":
        return { ...c, left: withValues(c.left), right: withValues(c.right) };
      case "not":
        return { ...c, operand: withValues(c.operand) };
      default:
        return c;
    }
  };
  return (routing as { target: string; when: Condition | null }[]).map((r) => (r.when ? `${r.target} when ${conditionText(withValues(r.when))}` : `${r.target} otherwise`));
}

/**
 * Candidate values for one threshold: midpoints between the quantiles of its measure over the inputs,
 * and values beyond both ends, so the swept rule goes from never holding to always holding.
 */
export function candidateThresholds(out: ExitOutputs, measureOf: (row: number) => number, steps: number): number[] {
  const values = Float64Array.from({ length: out.n }, (_, r) => measureOf(r)).sort();
  const picks: number[] = [];
  for (let s = 0; s <= steps; s++) picks.push(values[Math.min(out.n - 1, Math.round((s / steps) * (out.n - 1)))]!);
  const distinct = [...new Set(picks)];
  const span = Math.max(1e-6, distinct[distinct.length - 1]! - distinct[0]!);
  const out_: number[] = [distinct[0]! - span * 0.01 - 1e-6];
  for (let i = 0; i + 1 < distinct.length; i++) out_.push((distinct[i]! + distinct[i + 1]!) / 2);
  out_.push(distinct[distinct.length - 1]! + span * 0.01 + 1e-6);
  return out_;
}

/** The rule's answers with threshold `site.index` set to `value` and the others as given. */
export function answersWith(out: ExitOutputs, routing: Manifest["routing"], base: readonly number[], site: ThresholdSite, value: number, skip?: ReadonlySet<string>): Answer[] {
  const thresholds = [...base];
  thresholds[site.index] = value;
  const rules: Rule[] = rulesFromManifest({ routing }, thresholds);
  return routedAnswers(out, rules, skip);
}
