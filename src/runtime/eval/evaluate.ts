/**
 * `meanet eval`: the routed system and its baselines on the test split, calibrated thresholds
 * chosen on the validation split, threshold sweeps, the spec's evaluation assertions, and the cost
 * model's energy and latency per input. Every figure comes from one table of exit outputs: those of
 * the files that ship. When files ship with float32 references (int8 edges), a second table from
 * the references on the same images is compared with it (precision.ts).
 */
import { join } from "node:path";
import type { Calibration, EvalReport, Sweep, SweepPoint, SystemFigures } from "../../format/eval.js";
import type { Manifest } from "../../format/manifest.js";
import { thresholdValue, type RecordedThreshold } from "../../format/conditions.js";
import { Codes, MeanetError } from "../../diagnostics/index.js";
import { DEVICE_PRESETS, LINK_PRESETS } from "../../format/presets.js";
import { readBuild, type Build } from "../../format/build.js";
import { loadTestSamples } from "../infer/run.js";
import type { FeedData } from "../infer/onnx.js";
import { rulesFromManifest } from "../../format/rules.js";
import { loadValidation } from "../train/data/validation.js";
import { checkEvalAssertions } from "./assertions.js";
import { chooseThreshold, cloudFractionOf, metricOf, type CalibrationMetric, type Candidate } from "./calibrate.js";
import { computeExitOutputs, predictionOf, type ExitOutputs, type ExitTable } from "./outputs.js";
import { byEntropy, entropyExitAnswers, everyInputAt, figuresOf, fullExit, oracleAnswers, routedAnswers, type Answer, type Devices } from "./systems.js";
import { precisionComparison } from "./precision.js";
import { gapRecovery } from "./gap.js";
import { answersWith, candidateThresholds, ruleText, siteMeasure, siteText, thresholdSites, type ThresholdSite } from "./thresholds.js";

export interface EvaluateOptions {
  buildDir: string;
  data?: string;
  limit?: number;
  /** Steps of the threshold sweeps (points = steps + 2 at most). */
  sweepSteps?: number;
  onProgress?: (line: string) => void;
}

export interface Evaluation {
  report: EvalReport;
  /** The manifest's routing with calibrated values recorded, when something was calibrated. */
  routing: Manifest["routing"];
}

/** Entropy-exit sweep points, as fractions of inputs sent to the cloud. */
const ENTROPY_FRACTIONS = [0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];

function pointOf(f: SystemFigures, threshold: number | null, cloudExits: ReadonlySet<string>): SweepPoint {
  return { threshold: threshold === null ? null : Number(threshold.toPrecision(6)), cloudFraction: cloudFractionOf(f, cloudExits), accuracy: f.accuracy, energyJ: f.energyJ, latencyS: f.latencyS };
}

/** The device constants and where they come from; each device's precision, and the precision each file ships at. */
function costModelOf(devices: Devices, files: ExitOutputs["files"]): EvalReport["costModel"] {
  const sources = new Set<string>();
  // A constant equal to a preset's comes from that preset's source; any other was set in the spec.
  const known = [...Object.values(DEVICE_PRESETS).flatMap((p) => [p.energyPerMacJ, p.throughputMacsPerS]), ...Object.values(LINK_PRESETS).flatMap((p) => [p.uplinkBps, p.energyPerBitJ, p.rttS])];
  const find = (value: number, what: string) => sources.add(`${what}: ${known.find((c) => c.value === value)?.source ?? "set in the spec"}`);
  const { edge, cloud } = devices;
  find(edge.energyPerMacJ, `edge energy per MAC ${edge.energyPerMacJ} J`);
  find(edge.throughputMacsPerS, `edge throughput ${edge.throughputMacsPerS} MAC/s`);
  find(edge.energyPerBitJ, `edge energy per bit ${edge.energyPerBitJ} J`);
  find(edge.uplinkBps, `uplink ${edge.uplinkBps} bit/s`);
  find(edge.rttS, `round-trip time ${edge.rttS} s`);
  find(cloud.energyPerMacJ, `cloud energy per MAC ${cloud.energyPerMacJ} J`);
  find(cloud.throughputMacsPerS, `cloud throughput ${cloud.throughputMacsPerS} MAC/s`);
  return {
    edge: { preset: edge.preset, precision: edge.precision, energyPerMacJ: edge.energyPerMacJ, throughputMacsPerS: edge.throughputMacsPerS, energyPerBitJ: edge.energyPerBitJ, uplinkBps: edge.uplinkBps, rttS: edge.rttS },
    cloud: { preset: cloud.preset, precision: cloud.precision, energyPerMacJ: cloud.energyPerMacJ, throughputMacsPerS: cloud.throughputMacsPerS },
    // A partition without `precision` predates per-device precision: it was exported in float32.
    files: files.map((f) => ({ path: f.path, device: f.device, precision: f.precision ?? "fp32", ...(f.weightBytes ? { weightBytes: f.weightBytes } : {}) })),
    sources: [...sources],
  };
}

/** Chooses every calibrated threshold on the validation outputs, one after another. */
function calibrate(validation: ExitOutputs, routing: Manifest["routing"], sites: ThresholdSite[], devices: Devices, cloudExits: ReadonlySet<string>): { values: number[]; chosen: Omit<Calibration, "test">[] } {
  const values = sites.map((s) => {
    const v = thresholdValue(s.threshold);
    if (typeof v === "number") return v;
    // A provisional value for thresholds calibrated later: the median of the measure.
    const m = siteMeasure(validation, s);
    const all = Float64Array.from({ length: validation.n }, (_, r) => m(r)).sort();
    return all[all.length >> 1]!;
  });
  const chosen: Omit<Calibration, "test">[] = [];
  for (const site of sites) {
    if (site.threshold.kind !== "calibrate") continue;
    const metric = site.threshold.metric as CalibrationMetric;
    const candidates: Candidate[] = candidateThresholds(validation, siteMeasure(validation, site), 256).map((t) => ({ threshold: t, figures: figuresOf(validation, answersWith(validation, routing, values, site, t), devices) }));
    const pick = chooseThreshold(candidates, metric, site.threshold.value, cloudExits);
    // The value manifest.json records (8 significant digits) is the one eval scores with, so that
    // the router, which reads the manifest, sends exactly the inputs eval counted.
    const recorded = Number(pick.chosen.threshold.toPrecision(8));
    values[site.index] = recorded;
    chosen.push({ index: site.index, condition: siteText(site), target: { metric, value: site.threshold.value }, threshold: recorded, validation: { samples: validation.n, value: pick.value }, met: pick.met });
  }
  return { values, chosen };
}

/** The routing with calibrated values recorded beside their targets. */
function recordCalibration(routing: Manifest["routing"], chosen: readonly { index: number; threshold: number }[]): Manifest["routing"] {
  const copy = JSON.parse(JSON.stringify(routing)) as Manifest["routing"];
  const sites = thresholdSites(copy);
  for (const c of chosen) (sites[c.index]!.threshold as RecordedThreshold).calibrated = c.threshold;
  return copy;
}

/**
 * The validation images thresholds are calibrated on: all of them, except those the deferral model
 * was fitted on (the first half), so that a threshold on `defer` is not chosen where the model's
 * scores are at their most confident.
 */
function calibrationImages<V extends { images: FeedData; labels: ArrayLike<number>; count: number }>(build: Build, v: V, note: (s: string) => void): V {
  const rows = build.manifest.export?.deferral?.rows;
  if (!rows || rows.to <= rows.from) return v;
  if (rows.of !== v.count) {
    note(`warning: the deferral model was fitted on ${rows.to - rows.from} of ${rows.of} held-out images, but ${v.count} are found now; calibrating on all of them`);
    return v;
  }
  const size = v.images.length / v.count;
  const keep = [...Array(v.count).keys()].filter((r) => r < rows.from || r >= rows.to);
  const images = new (v.images.constructor as new (n: number) => FeedData)(keep.length * size);
  keep.forEach((r, i) => images.set(v.images.subarray(r * size, (r + 1) * size), i * size));
  note(`calibrating on the ${keep.length} held-out images the deferral model was not fitted on`);
  return { ...v, images, labels: keep.map((r) => v.labels[r]!), count: keep.length };
}

/** The thresholds the rules run with: the spec's numbers, and `calibrate(…)` targets chosen on the validation split. */
async function calibratedRouting(build: Build, o: EvaluateOptions, out: ExitOutputs, cloudExits: ReadonlySet<string>, note: (s: string) => void): Promise<{ routing: Manifest["routing"]; thresholds: number[]; calibration: Calibration[] }> {
  const { manifest } = build;
  const devices: Devices = manifest.devices;
  const sites = thresholdSites(manifest.routing);
  if (!sites.some((s) => s.threshold.kind === "calibrate")) {
    return { routing: manifest.routing, thresholds: sites.map((s) => thresholdValue(s.threshold) as number), calibration: [] };
  }
  const v = calibrationImages(build, loadValidation(build, o.data, note), note);
  note(`calibrating ${sites.filter((s) => s.threshold.kind === "calibrate").length} threshold(s) on ${v.count} validation images`);
  // On the outputs of the files that ship (int8 edges as quantized), which the router runs: never
  // on the float32 references, which the precision comparison routes with these same thresholds.
  const validation = await computeExitOutputs(build, v.images, v.labels, v.count, { files: "shipped" });
  const c = calibrate(validation, manifest.routing, sites, devices, cloudExits);
  const routing = recordCalibration(manifest.routing, c.chosen);
  const testFigures = figuresOf(out, routedAnswers(out, rulesFromManifest({ routing }, c.values)), devices);
  const calibration = c.chosen.map((x) => ({ ...x, test: { value: metricOf(x.target.metric, testFigures, cloudExits) } }));
  return { routing, thresholds: c.values, calibration };
}

/** The exit every input would end at on the edge alone, and the one of the cloud alone: both over all classes. */
function baselineExits(out: ExitOutputs): { edgeExit: ExitTable; cloudExit: ExitTable } {
  const edgeExit = fullExit(out, "edge");
  const cloudExit = fullExit(out, "cloud");
  if (!edgeExit || !cloudExit) throw new MeanetError(Codes.BuildInvalid, "the baselines need an edge exit and a cloud exit over all classes; this build has " + [...out.exits.values()].map((x) => `${x.name} (${x.device}, ${x.classes.kind})`).join(", "));
  return { edgeExit, cloudExit };
}

/** Edge only, edge + extension, cloud only, the entropy exit at the routed system's cloud fraction, and the oracle. */
function baselinesOf(out: ExitOutputs, routedList: Answer[], edgeList: Answer[], exits: { edgeExit: ExitTable; cloudExit: ExitTable }, ranked: ReturnType<typeof byEntropy>, devices: Devices, cloudExits: ReadonlySet<string>): EvalReport["baselines"] {
  const { edgeExit, cloudExit } = exits;
  const sent = routedList.filter((a) => cloudExits.has(a.exit)).length;
  const entropyAt = entropyExitAnswers(out, edgeExit, cloudExit, ranked, sent);
  const described = (f: SystemFigures, description: string) => ({ ...f, description });
  return {
    edgeOnly: described(figuresOf(out, everyInputAt(out, edgeExit), devices), `every input answered at the ${edgeExit.name} exit`),
    edgeWithExtension: described(figuresOf(out, edgeList, devices), "the spec's rule with the cloud taken away: inputs it sends to the cloud get the edge's own answer"),
    cloudOnly: described(figuresOf(out, everyInputAt(out, cloudExit), devices), `every input sent to the ${cloudExit.name} exit`),
    entropyExit: described(
      figuresOf(out, entropyAt.answers, devices),
      `class-unaware early exit: the ${sent} inputs (the routed system's cloud fraction) with the highest entropy of ${edgeExit.name} go to ${cloudExit.name}, the rest exit at ${edgeExit.name}${entropyAt.threshold === null ? "" : ` (entropy threshold ${entropyAt.threshold.toPrecision(4)})`}`,
    ),
    oracle: described(figuresOf(out, oracleAnswers(out, edgeList, cloudExit), devices), "the edge's own answer, and the cloud for exactly the inputs the edge gets wrong: the upper bound of any router"),
  };
}

/** Sweeps: the threshold of the first rule that sends inputs to the cloud, and the entropy exit. */
function sweepsOf(out: ExitOutputs, routing: Manifest["routing"], thresholds: number[], exits: { edgeExit: ExitTable; cloudExit: ExitTable }, ranked: ReturnType<typeof byEntropy>, devices: Devices, cloudExits: ReadonlySet<string>, steps: number): Sweep[] {
  const { edgeExit, cloudExit } = exits;
  const sites = thresholdSites(routing);
  const sweeps: Sweep[] = [];
  const swept = sites.find((s) => cloudExits.has(s.target)) ?? sites[0];
  if (swept) {
    const points = candidateThresholds(out, siteMeasure(out, swept), steps).map((t) => pointOf(figuresOf(out, answersWith(out, routing, thresholds, swept, t), devices), t, cloudExits));
    sweeps.push({ system: "routed", condition: siteText(swept), points: dedupe(points) });
  }
  sweeps.push({
    system: "entropyExit",
    condition: `entropy(${edgeExit.name}) > t`,
    points: dedupe(
      ENTROPY_FRACTIONS.map((f) => {
        const e = entropyExitAnswers(out, edgeExit, cloudExit, ranked, Math.round(f * out.n));
        return pointOf(figuresOf(out, e.answers, devices), e.threshold, cloudExits);
      }),
    ),
  });
  return sweeps;
}

/** The routed system's accuracy on each class's test images. */
function perClassAccuracy(out: ExitOutputs, routedList: Answer[], labels: ArrayLike<number>, names: string[]): EvalReport["perClass"] {
  return names.map((label, c) => {
    let samples = 0;
    let right = 0;
    routedList.forEach((a, r) => {
      if (labels[r] !== c) return;
      samples++;
      if (predictionOf(out.exits.get(a.exit)!, r) === c) right++;
    });
    return { label, hard: out.hardIds.has(c), samples, accuracy: samples ? Number((right / samples).toFixed(4)) : 0 };
  });
}

/** Each exit on its own, on the test images of the classes it covers. */
function exitStandaloneAccuracy(out: ExitOutputs, labels: ArrayLike<number>): EvalReport["exitStandalone"] {
  return [...out.exits.values()].map((x) => {
    const own = new Set(x.classIds);
    let samples = 0;
    let right = 0;
    for (let r = 0; r < out.n; r++) {
      if (!own.has(labels[r]!)) continue;
      samples++;
      if (predictionOf(x, r) === labels[r]) right++;
    }
    return { exit: x.name, classes: x.classes.kind, samples, accuracy: samples ? Number((right / samples).toFixed(4)) : 0, file: x.file.path, precision: x.file.precision ?? "fp32" };
  });
}

export async function evaluate(o: EvaluateOptions): Promise<Evaluation> {
  const started = performance.now();
  const note = o.onProgress ?? (() => {});
  const build = readBuild(o.buildDir);
  const { ir, manifest } = build;
  if (!manifest.export) throw new MeanetError(Codes.BuildInvalid, `${join(o.buildDir, "manifest.json")} lists no ONNX export; run \`meanet export ${o.buildDir}\` first`);
  const devices: Devices = manifest.devices;

  const test = loadTestSamples(manifest, o.data, o.limit);
  note(`evaluating ${manifest.model} on ${test.count} test images of ${test.source}`);
  const out = await computeExitOutputs(build, test.images, test.labels, test.count, { files: "shipped" });
  const cloudExits = new Set([...out.exits.values()].filter((x) => x.device === "cloud").map((x) => x.name));
  const { routing, thresholds, calibration } = await calibratedRouting(build, o, out, cloudExits, note);
  const rules = rulesFromManifest({ routing }, thresholds);

  const routedList = routedAnswers(out, rules);
  const routed = figuresOf(out, routedList, devices);
  const edgeList = routedAnswers(out, rules, cloudExits);
  const exits = baselineExits(out);
  const ranked = byEntropy(out, exits.edgeExit);
  const baselines = baselinesOf(out, routedList, edgeList, exits, ranked, devices, cloudExits);
  const gain = baselines.oracle.accuracy - baselines.edgeOnly.accuracy;
  const oracleGainRecovered = gain > 0 ? Number(((routed.accuracy - baselines.edgeOnly.accuracy) / gain).toFixed(4)) : null;
  const sweeps = sweepsOf(out, routing, thresholds, exits, ranked, devices, cloudExits, o.sweepSteps ?? 40);
  const operating = Object.fromEntries(
    (["routed", "edgeWithExtension", "entropyExit", "oracle"] as const).map((name) => {
      const f = name === "routed" ? routed : baselines[name];
      return [name, { accuracy: f.accuracy, cloudFraction: cloudFractionOf(f, cloudExits) }];
    }),
  );
  const gap = gapRecovery(baselines.edgeOnly.accuracy, baselines.cloudOnly.accuracy, operating, sweeps, ENTROPY_FRACTIONS);
  const exitStandalone = exitStandaloneAccuracy(out, test.labels);
  const assertions = checkEvalAssertions(ir, routed, new Map(exitStandalone.map((x) => [x.exit, x.accuracy])), cloudExits);
  const precision = await precisionComparison(build, test, out, { routing, thresholds, answers: routedList, figures: routed }, note);

  const report: EvalReport = {
    format: "meanet-eval",
    version: 1,
    model: manifest.model,
    buildId: manifest.buildId,
    data: { source: test.source, split: "test", samples: test.count },
    labels: manifest.labels,
    hardClasses: manifest.export.hardClasses,
    rule: ruleText(routing, thresholds),
    routed,
    baselines,
    oracleGainRecovered,
    gapRecovery: gap,
    perClass: perClassAccuracy(out, routedList, test.labels, manifest.labels),
    exitStandalone,
    sweeps,
    calibration,
    assertions,
    ...(precision ? { precision } : {}),
    costModel: costModelOf(devices, out.files),
    seconds: Number(((performance.now() - started) / 1000).toFixed(2)),
  };
  return { report, routing };
}

/** Sweep points sorted by cloud fraction, equal neighbours merged. */
function dedupe(points: SweepPoint[]): SweepPoint[] {
  const sorted = [...points].sort((a, b) => a.cloudFraction - b.cloudFraction || a.accuracy - b.accuracy);
  return sorted.filter((p, i) => i === 0 || p.cloudFraction !== sorted[i - 1]!.cloudFraction || p.accuracy !== sorted[i - 1]!.accuracy);
}

export type { Answer };
