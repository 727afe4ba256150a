/**
 * Calibrated thresholds (dsl/reference.md §10): a `calibrate(TARGET: value)` threshold is chosen on
 * the validation split. Budgets (cloud fraction, energy, latency) take the threshold that uses as
 * much of the budget as it can without exceeding it — the most accurate choice within budget — and
 * an accuracy target takes the cheapest threshold that reaches it.
 */
import type { SystemFigures } from "../../format/eval.js";

export type CalibrationMetric = "cloud_fraction" | "accuracy" | "energy" | "latency";

export interface Candidate {
  threshold: number;
  figures: SystemFigures;
}

/** The fraction of inputs answered by the cloud exits. */
export function cloudFractionOf(f: SystemFigures, cloudExits: ReadonlySet<string>): number {
  return Number(Object.entries(f.fractions).reduce((s, [x, v]) => s + (cloudExits.has(x) ? v : 0), 0).toFixed(6));
}

export function metricOf(metric: CalibrationMetric, f: SystemFigures, cloudExits: ReadonlySet<string>): number {
  switch (metric) {
    case "cloud_fraction":
      return cloudFractionOf(f, cloudExits);
    case "accuracy":
      return f.accuracy;
    case "energy":
      return f.energyJ;
    case "latency":
      return f.latencyS;
  }
}

/** Picks the candidate that meets the target best; `met` is false when none meets it and the closest is taken. */
export function chooseThreshold(candidates: readonly Candidate[], metric: CalibrationMetric, target: number, cloudExits: ReadonlySet<string>): { chosen: Candidate; value: number; met: boolean } {
  if (!candidates.length) throw new RangeError("chooseThreshold: no candidates");
  const value = (c: Candidate) => metricOf(metric, c.figures, cloudExits);
  const cloud = (c: Candidate) => cloudFractionOf(c.figures, cloudExits);
  let best: Candidate | undefined;
  if (metric === "accuracy") {
    // The cheapest threshold that reaches the accuracy; ties go to the more accurate one.
    for (const c of candidates) {
      if (value(c) < target) continue;
      if (!best || c.figures.energyJ < best.figures.energyJ || (c.figures.energyJ === best.figures.energyJ && c.figures.accuracy > best.figures.accuracy)) best = c;
    }
    if (best) return { chosen: best, value: value(best), met: true };
    const closest = candidates.reduce((a, c) => (value(c) > value(a) ? c : a));
    return { chosen: closest, value: value(closest), met: false };
  }
  // A budget: the largest use of it that stays within; ties go to the more accurate, then the one sending less.
  for (const c of candidates) {
    if (value(c) > target) continue;
    if (!best || value(c) > value(best) || (value(c) === value(best) && (c.figures.accuracy > best.figures.accuracy || (c.figures.accuracy === best.figures.accuracy && cloud(c) < cloud(best))))) best = c;
  }
  if (best) return { chosen: best, value: value(best), met: true };
  const closest = candidates.reduce((a, c) => (value(c) < value(a) ? c : a));
  return { chosen: closest, value: value(closest), met: false };
}
