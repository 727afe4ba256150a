/** Gap recovery (PGR, APGR, CPT) on curves whose figures are known by hand. */
import { describe, expect, it } from "vitest";
import type { Sweep } from "../src/format/eval.js";
import { cloudFractionFor, curvePoints, gapRecovery, meanPgr } from "../src/runtime/eval/gap.js";

const pts = (xy: [number, number][]) => xy.map(([cloudFraction, pgr]) => ({ cloudFraction, accuracy: 0, pgr }));
const sweep = (system: Sweep["system"], xy: [number, number][]): Sweep => ({ system, condition: `${system} t`, points: xy.map(([cloudFraction, accuracy]) => ({ threshold: null, cloudFraction, accuracy, energyJ: 0, latencyS: 0 })) });

describe("gap recovery", () => {
  it("averages PGR as the area under the curve, linear between points and level beyond them", () => {
    const curve = pts([[0, 0], [0.5, 1], [1, 1]]);
    expect(meanPgr(curve, 0, 1)).toBeCloseTo(0.75, 12);
    expect(meanPgr(curve, 0, 0.1)).toBeCloseTo(0.1, 12);
    expect(meanPgr(pts([[0.2, 0.4]]), 0, 1)).toBeCloseTo(0.4, 12);
    // A curve that starts at 20%: level at its first value before it.
    expect(meanPgr(pts([[0.2, 0.5], [1, 1]]), 0, 1)).toBeCloseTo(0.2 * 0.5 + 0.8 * 0.75, 12);
  });

  it("finds the smallest cloud fraction reaching a PGR, interpolated, or none", () => {
    const curve = pts([[0, 0.1], [0.2, 0.3], [0.4, 0.9], [1, 0.95]]);
    expect(cloudFractionFor(curve, 0.5)).toBeCloseTo(0.2 + (0.2 / 0.6) * 0.2, 6);
    expect(cloudFractionFor(curve, 0.05)).toBe(0);
    expect(cloudFractionFor(curve, 1)).toBeNull();
  });

  it("averages the accuracy of points at the same cloud fraction", () => {
    const p = curvePoints([{ cloudFraction: 0.1, accuracy: 0.8 }, { cloudFraction: 0.1, accuracy: 0.9 }, { cloudFraction: 0, accuracy: 0.7 }], (a) => a);
    expect(p.map((x) => [x.cloudFraction, x.accuracy])).toEqual([[0, 0.7], [0.1, 0.85]]);
  });

  it("gives random routing PGR f (APGR 50%) and each system its PGR; nothing when the cloud does not beat the edge", () => {
    const g = gapRecovery(0.8, 0.9, { routed: { accuracy: 0.88, cloudFraction: 0.1 } }, [sweep("routed", [[0, 0.82], [0.1, 0.88], [1, 0.9]])], [0, 0.05, 0.1, 0.5, 1])!;
    expect(g.systems.routed!.pgr).toBeCloseTo(0.8, 6);
    const random = g.curves.find((c) => c.system === "random")!;
    for (const p of random.points) expect(p.pgr).toBeCloseTo(p.cloudFraction, 6);
    expect(random.apgr).toBeCloseTo(0.5, 6);
    expect(random.apgrLow).toBeCloseTo(0.05, 6);
    expect(random.cpt).toEqual({ "50": 0.5, "80": expect.closeTo(0.8, 6), "100": 1 });
    const routed = g.curves.find((c) => c.system === "routed")!;
    expect(routed.points.map((p) => p.pgr)).toEqual([expect.closeTo(0.2, 6), expect.closeTo(0.8, 6), expect.closeTo(1, 6)]);
    expect(routed.cpt["50"]).toBeCloseTo(0.05, 6);
    // Accuracy at 5% cloud: halfway between (0, 0.82) and (0.1, 0.88).
    expect(routed.accuracyAt).toEqual({ "5": expect.closeTo(0.85, 6), "10": expect.closeTo(0.88, 6) });
    expect(random.accuracyAt!["10"]).toBeCloseTo(0.81, 6);
    expect(gapRecovery(0.9, 0.9, {}, [], [0, 1])).toBeNull();
    expect(gapRecovery(0.9, 0.85, {}, [], [0, 1])).toBeNull();
  });
});
