/**
 * How much of the gap between the edge alone and the cloud alone a system recovers, as the routing
 * literature reports it (RouteLLM, Ong et al. 2024): PGR = (accuracy − edge-only) / (cloud-only −
 * edge-only), for a system at its operating point and along a sweep of its threshold; the mean PGR
 * over cloud fractions 0–100% (APGR) and over the low-offload range 0–10%; and CPT(x), the smallest
 * cloud fraction at which a curve reaches PGR x.
 */
import type { GapCurve, GapRecovery, Sweep } from "../../format/eval.js";

const round = (x: number) => Number(x.toFixed(6));

/** The PGR targets CPT is reported for. */
export const CPT_TARGETS = [0.5, 0.8, 1] as const;

/** Points of a curve sorted by cloud fraction, those at the same fraction averaged. */
export function curvePoints(points: readonly { cloudFraction: number; accuracy: number }[], pgr: (accuracy: number) => number): GapCurve["points"] {
  const byFraction = new Map<number, number[]>();
  for (const p of points) {
    const accs = byFraction.get(p.cloudFraction);
    if (accs) accs.push(p.accuracy);
    else byFraction.set(p.cloudFraction, [p.accuracy]);
  }
  return [...byFraction.entries()]
    .sort(([a], [b]) => a - b)
    .map(([cloudFraction, accs]) => {
      const accuracy = accs.reduce((s, a) => s + a, 0) / accs.length;
      return { cloudFraction, accuracy: round(accuracy), pgr: round(pgr(accuracy)) };
    });
}

/**
 * The mean of PGR over cloud fractions [from, to]: the area under the curve, linear between its
 * points and level beyond its first and last, divided by the width.
 */
export function meanPgr(points: GapCurve["points"], from: number, to: number): number {
  if (!points.length) return NaN;
  const at = (x: number) => valueAt(points, x, "pgr");
  // Breakpoints inside the range, where the integrand is linear between neighbours: exact trapezoids.
  const xs = [from, ...points.map((p) => p.cloudFraction).filter((x) => x > from && x < to), to];
  let area = 0;
  for (let i = 1; i < xs.length; i++) area += ((at(xs[i - 1]!) + at(xs[i]!)) / 2) * (xs[i]! - xs[i - 1]!);
  return area / (to - from);
}

/** A curve's accuracy or PGR at cloud fraction x: linear between its points, level beyond its first and last. */
export function valueAt(points: GapCurve["points"], x: number, key: "accuracy" | "pgr"): number {
  if (x <= points[0]!.cloudFraction) return points[0]![key];
  for (let i = 1; i < points.length; i++) {
    const p = points[i - 1]!;
    const q = points[i]!;
    if (x <= q.cloudFraction) return p[key] + ((q[key] - p[key]) * (x - p.cloudFraction)) / (q.cloudFraction - p.cloudFraction);
  }
  return points[points.length - 1]![key];
}

/** The cloud fractions at which each curve's accuracy is reported (the low-offload range). */
export const ACCURACY_AT = [0.05, 0.1] as const;

/** The smallest cloud fraction at which the curve reaches PGR `target` (linear between points), or null. */
export function cloudFractionFor(points: GapCurve["points"], target: number): number | null {
  for (let i = 0; i < points.length; i++) {
    const q = points[i]!;
    if (q.pgr < target) continue;
    if (i === 0) return q.cloudFraction;
    const p = points[i - 1]!;
    return round(p.cloudFraction + ((target - p.pgr) / (q.pgr - p.pgr)) * (q.cloudFraction - p.cloudFraction));
  }
  return null;
}

function curveOf(system: GapCurve["system"], condition: string, points: GapCurve["points"]): GapCurve {
  const cpt = Object.fromEntries(CPT_TARGETS.map((t) => [String(Math.round(t * 100)), cloudFractionFor(points, t)])) as GapCurve["cpt"];
  const accuracyAt = Object.fromEntries(ACCURACY_AT.map((f) => [String(Math.round(f * 100)), round(valueAt(points, f, "accuracy"))])) as GapCurve["accuracyAt"];
  return { system, condition, points, apgr: round(meanPgr(points, 0, 1)), apgrLow: round(meanPgr(points, 0, 0.1)), cpt, accuracyAt };
}

/**
 * The gap-recovery figures of an evaluation: PGR at each system's operating point, and the curves
 * of the routed sweep, the entropy exit's sweep and random routing. Null when the cloud alone is no
 * more accurate than the edge alone (there is no gap to recover).
 */
export function gapRecovery(
  edgeOnly: number,
  cloudOnly: number,
  operating: Record<string, { accuracy: number; cloudFraction: number }>,
  sweeps: readonly Sweep[],
  randomFractions: readonly number[],
): GapRecovery | null {
  const gap = cloudOnly - edgeOnly;
  if (!(gap > 0)) return null;
  const pgr = (accuracy: number) => (accuracy - edgeOnly) / gap;
  const curves = sweeps.map((s) => curveOf(s.system, s.condition, curvePoints(s.points, pgr)));
  // Random routing: each input to the cloud with probability f, else the edge-only answer; its
  // expected accuracy is (1 − f)·edge-only + f·cloud-only, so its PGR is f.
  const random = randomFractions.map((f) => ({ cloudFraction: f, accuracy: (1 - f) * edgeOnly + f * cloudOnly }));
  curves.push(curveOf("random", "each input to the cloud with probability f (expected accuracy)", curvePoints(random, pgr)));
  return {
    edgeOnly,
    cloudOnly,
    systems: Object.fromEntries(Object.entries(operating).map(([name, o]) => [name, { cloudFraction: o.cloudFraction, pgr: round(pgr(o.accuracy)) }])),
    curves,
  };
}
