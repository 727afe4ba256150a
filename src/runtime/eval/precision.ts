/**
 * The shipped files against their float32 references. Export ships each partition at its device's
 * precision (int8 edges, say) and keeps the float32 file of the same weights beside it; evaluation
 * runs the references in place of the shipped files on the same test images and compares, exit by
 * exit and for the routed system. Routing on the references uses the shipped system's rule and
 * thresholds: a threshold is calibrated on the validation outputs of the shipped files alone
 * (evaluate.ts, `calibratedRouting`), since those are the files the router runs.
 */
import type { PrecisionComparison, PrecisionExit, PrecisionRouted, SystemFigures } from "../../format/eval.js";
import { exportedPartitions } from "../../format/exits.js";
import type { Manifest } from "../../format/manifest.js";
import { argmax } from "../../format/measures.js";
import { rulesFromManifest } from "../../format/rules.js";
import { cloudFractionOf } from "./calibrate.js";
import { computeExitOutputs, predictionOf, type ExitOutputs } from "./outputs.js";
import { figuresOf, routedAnswers, type Answer, type Devices } from "./systems.js";
import { answersWith, siteMeasure, siteText, thresholdSites, type ThresholdSite } from "./thresholds.js";
import type { FeedData } from "../infer/onnx.js";

/** The shipped routed system: its rule, the thresholds it runs with, and its answers on the shipped outputs. */
export interface ShippedSystem {
  routing: Manifest["routing"];
  thresholds: readonly number[];
  answers: readonly Answer[];
  figures: SystemFigures;
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));

/** Each exit on its own: accuracy on the test images of its classes (4 digits, as exitStandalone), top-1 agreement on all of them and on those of its classes. */
export function exitComparison(shipped: ExitOutputs, reference: ExitOutputs): PrecisionExit[] {
  return [...shipped.exits.values()].map((x) => {
    const y = reference.exits.get(x.name)!;
    const own = new Set(x.classIds);
    let [samples, right, rightRef, agree, agreeOwn] = [0, 0, 0, 0, 0];
    for (let r = 0; r < shipped.n; r++) {
      const a = argmax(x.probs, r * x.k, x.k);
      const b = argmax(y.probs, r * y.k, y.k);
      if (a === b) agree++;
      const label = shipped.labels[r]!;
      if (!own.has(label)) continue;
      samples++;
      if (a === b) agreeOwn++;
      if (x.classIds[a] === label) right++;
      if (y.classIds[b] === label) rightRef++;
    }
    const accuracy = (k: number) => (samples ? round(k / samples, 4) : 0);
    return {
      exit: x.name,
      file: x.file.path,
      precision: x.file.precision ?? "fp32",
      reference: x.file.reference ?? null,
      samples,
      accuracy: { shipped: accuracy(right), reference: accuracy(rightRef) },
      agreement: shipped.n ? round(agree / shipped.n, 6) : 0,
      agreementOnClasses: samples ? round(agreeOwn / samples, 6) : 0,
    };
  });
}

function routedOf(f: SystemFigures, cloudExits: ReadonlySet<string>): PrecisionRouted {
  return { accuracy: f.accuracy, fractions: f.fractions, cloudFraction: cloudFractionOf(f, cloudExits) };
}

const sentOf = (answers: readonly Answer[], cloudExits: ReadonlySet<string>) => answers.reduce((s, a) => s + (cloudExits.has(a.exit) ? 1 : 0), 0);

/** Candidate values of a site's threshold on these outputs: below every value of its measure, between each two, above every one. */
function everyCut(out: ExitOutputs, site: ThresholdSite): number[] {
  const m = siteMeasure(out, site);
  const values = [...new Set(Float64Array.from({ length: out.n }, (_, r) => m(r)).sort())];
  const span = Math.max(1e-6, values.at(-1)! - values[0]!);
  return [values[0]! - span * 0.01 - 1e-6, ...values.slice(1).map((v, i) => (values[i]! + v) / 2), values.at(-1)! + span * 0.01 + 1e-6];
}

/**
 * The reference outputs routed by the shipped rule with `site`'s threshold moved so that as many
 * inputs go to the cloud as `sent`, as near as the inputs allow. Moving one threshold moves the
 * inputs sent to the cloud one way only, so a binary search over the cuts of its measure finds it.
 */
function atSent(out: ExitOutputs, system: ShippedSystem, site: ThresholdSite, sent: number, cloudExits: ReadonlySet<string>): { threshold: number; answers: Answer[] } {
  const cuts = everyCut(out, site);
  const seen = new Map<number, { threshold: number; answers: Answer[]; sent: number }>();
  const at = (j: number) => {
    let e = seen.get(j);
    if (!e) {
      const answers = answersWith(out, system.routing, system.thresholds, site, cuts[j]!);
      seen.set(j, (e = { threshold: cuts[j]!, answers, sent: sentOf(answers, cloudExits) }));
    }
    return e;
  };
  const last = cuts.length - 1;
  const rising = at(last).sent >= at(0).sent;
  const index = (i: number) => (rising ? i : last - i);
  // The first cut, in rising order, that sends at least `sent`; then the nearer of it and the one before.
  let [lo, hi] = [0, last];
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (at(index(mid)).sent >= sent) hi = mid;
    else lo = mid + 1;
  }
  const best = lo > 0 && Math.abs(at(index(lo - 1)).sent - sent) <= Math.abs(at(index(lo)).sent - sent) ? at(index(lo - 1)) : at(index(lo));
  return { threshold: best.threshold, answers: best.answers };
}

/** The routed system on the shipped outputs and on the reference outputs, by the shipped system's rule and thresholds. */
export function routedComparison(shipped: ExitOutputs, reference: ExitOutputs, system: ShippedSystem, devices: Devices, cloudExits: ReadonlySet<string>): PrecisionComparison["routed"] {
  const answers = routedAnswers(reference, rulesFromManifest({ routing: system.routing }, system.thresholds));
  let [sameExit, agreement] = [0, 0];
  system.answers.forEach((a, r) => {
    if (a.exit === answers[r]!.exit) sameExit++;
    if (predictionOf(shipped.exits.get(a.exit)!, r) === predictionOf(reference.exits.get(answers[r]!.exit)!, r)) agreement++;
  });
  const site = thresholdSites(system.routing).find((s) => cloudExits.has(s.target));
  let referenceAtCloudFraction: PrecisionComparison["routed"]["referenceAtCloudFraction"] = null;
  if (site) {
    const moved = atSent(reference, system, site, sentOf(system.answers, cloudExits), cloudExits);
    const f = figuresOf(reference, moved.answers, devices);
    referenceAtCloudFraction = { ...routedOf(f, cloudExits), condition: siteText(site), threshold: Number(moved.threshold.toPrecision(6)) };
  }
  const n = Math.max(1, shipped.n);
  return {
    shipped: routedOf(system.figures, cloudExits),
    reference: routedOf(figuresOf(reference, answers, devices), cloudExits),
    sameExit: round(sameExit / n, 6),
    agreement: round(agreement / n, 6),
    referenceAtCloudFraction,
  };
}

/** The comparison from the two tables of exit outputs (the shipped files' and the references', on the same inputs). */
export function comparePrecision(shipped: ExitOutputs, reference: ExitOutputs, system: ShippedSystem, devices: Devices, cloudExits: ReadonlySet<string>): PrecisionComparison {
  if (shipped.ran !== "shipped" || reference.ran !== "reference" || shipped.n !== reference.n) throw new Error("comparePrecision: needs the shipped and the reference outputs of the same inputs");
  return {
    files: shipped.files.flatMap((f) => (f.reference ? [{ path: f.path, device: f.device, precision: f.precision ?? "fp32", reference: f.reference }] : [])),
    exits: exitComparison(shipped, reference),
    routed: routedComparison(shipped, reference, system, devices, cloudExits),
  };
}

/**
 * Runs the references on the test images the shipped files were evaluated on (`images`, the same
 * `count`) and compares; undefined when no file of the export has a reference.
 */
export async function precisionComparison(
  build: Parameters<typeof computeExitOutputs>[0],
  test: { images: FeedData; labels: ArrayLike<number>; count: number },
  shipped: ExitOutputs,
  system: ShippedSystem,
  note: (line: string) => void,
): Promise<PrecisionComparison | undefined> {
  const references = exportedPartitions(build.manifest).flatMap((p) => (p.reference ? [p.reference] : []));
  if (!references.length) return undefined;
  note(`running the float32 references (${references.join(", ")}) on the same ${test.count} test images`);
  const reference = await computeExitOutputs(build, test.images, test.labels, test.count, { files: "reference" });
  const cloudExits = new Set([...shipped.exits.values()].filter((x) => x.device === "cloud").map((x) => x.name));
  return comparePrecision(shipped, reference, system, build.manifest.devices, cloudExits);
}
