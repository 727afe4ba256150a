/** The routing rule as data both the generated router and the runtime's interpreter agree on. */
import type { Condition, Threshold } from "../ir/index.js";

/** Every threshold of a condition, depth first, left before right: the numbering `thresholds[i]` uses. */
export function conditionThresholds(c: Condition | null | undefined, out: Threshold[] = []): Threshold[] {
  if (!c) return out;
  switch (c.kind) {
    case "threshold":
      out.push(c.threshold);
      break;
    case "and":
    case "or":
      conditionThresholds(c.left, out);
      conditionThresholds(c.right, out);
      break;
    case "not":
      conditionThresholds(c.operand, out);
      break;
    default:
      break;
  }
  return out;
}

/** The thresholds of all rules, in rule order. */
export function routingThresholds(rules: readonly { when: Condition | null | undefined }[]): Threshold[] {
  const out: Threshold[] = [];
  for (const r of rules) conditionThresholds(r.when, out);
  return out;
}

/** A threshold as manifest.json records it: `meanet eval` writes the value it calibrated beside the target. */
export type RecordedThreshold = Threshold & { calibrated?: number };

/** A threshold as a number, or why it has none yet. */
export function thresholdValue(t: RecordedThreshold): number | { missing: string } {
  if (t.kind === "value") return t.value;
  if (typeof t.calibrated === "number") return t.calibrated;
  return { missing: `calibrate(${t.metric}: ${t.value}) has no calibrated value yet` };
}
