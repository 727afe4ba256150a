/** The routing rule as data both the generated router and the runtime's interpreter agree on. */

/** A set of classes an exit covers or a condition tests: all labels, the hard or easy ones, or a list. */
export type ClassSet = { kind: "all" } | { kind: "hard" } | { kind: "easy" } | { kind: "labels"; labels: string[] };

export type Measure = "entropy" | "normalized_entropy" | "max_prob" | "margin" | "hard_mass" | "defer";

export interface MeasureRef {
  measure: Measure;
  /** The exit measured; for `defer`, the first exit the deferral model reads. */
  exit: string;
  /** For `defer` only: every exit the deferral model reads, in order. */
  exits?: string[];
}

/** The exits a measure reads. */
export function measureExits(m: MeasureRef): string[] {
  return m.exits ?? [m.exit];
}

/** Every measure a condition compares, depth first, left before right. */
export function measuresIn(c: Condition | null | undefined, out: MeasureRef[] = []): MeasureRef[] {
  if (!c) return out;
  switch (c.kind) {
    case "threshold":
      out.push(c.measure);
      break;
    case "versus":
      out.push(c.left, c.right);
      break;
    case "and":
    case "or":
      measuresIn(c.left, out);
      measuresIn(c.right, out);
      break;
    case "not":
      measuresIn(c.operand, out);
      break;
    default:
      break;
  }
  return out;
}

/** A measure as the spec writes it, e.g. `entropy(main)` or `defer(main, extension)`. */
export function measureText(m: MeasureRef): string {
  return `${m.measure}(${measureExits(m).join(", ")})`;
}

export type Threshold = { kind: "value"; value: number } | { kind: "calibrate"; metric: string; value: number };

export type Condition =
  | { kind: "threshold"; measure: MeasureRef; op: "<" | "<=" | ">" | ">="; threshold: Threshold }
  | { kind: "versus"; left: MeasureRef; op: "<" | "<=" | ">" | ">="; right: MeasureRef }
  | { kind: "argmax_in"; exit: string; set: ClassSet }
  | { kind: "and" | "or"; left: Condition; right: Condition }
  | { kind: "not"; operand: Condition };

/** A comparison of routing conditions and assertions. */
export type Comparison = "<" | "<=" | ">" | ">=" | "==" | "!=";

export function holds(op: Comparison, a: number, b: number): boolean {
  switch (op) {
    case "<":
      return a < b;
    case "<=":
      return a <= b;
    case ">":
      return a > b;
    case ">=":
      return a >= b;
    case "==":
      return a === b;
    case "!=":
      return a !== b;
  }
}

/** A condition as the spec writes it, for comments and reports. */
export function conditionText(c: Condition): string {
  const t = (x: Threshold) => (x.kind === "value" ? String(x.value) : `calibrate(${x.metric}: ${x.value})`);
  const set = (s: Extract<Condition, { kind: "argmax_in" }>["set"]) => (s.kind === "labels" ? `[${s.labels.map((l) => JSON.stringify(l)).join(", ")}]` : s.kind);
  switch (c.kind) {
    case "threshold":
      return `${measureText(c.measure)} ${c.op} ${t(c.threshold)}`;
    case "versus":
      return `${measureText(c.left)} ${c.op} ${measureText(c.right)}`;
    case "argmax_in":
      return `argmax(${c.exit}) in ${set(c.set)}`;
    case "and":
    case "or":
      return `(${conditionText(c.left)} ${c.kind} ${conditionText(c.right)})`;
    case "not":
      return `not ${conditionText(c.operand)}`;
  }
}

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
