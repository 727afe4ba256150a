/**
 * report.html of `meanet eval`: a self-contained page drawn from the EvalReport alone. Tables are
 * a handlebars template (escaping every string of the report); the two charts are vega-lite
 * specs rendered to SVG at generation time, so the page needs neither script nor network. Same
 * report, same bytes.
 */
import { formatCount } from "../../ir/index.js";
import { macPrecisionText, shippedPrecisions, type AssertionOutcome, type Calibration, type EvalReport, type PrecisionComparison, type PrecisionRouted, type SystemFigures } from "../../format/eval.js";
import { chartSpec, cloudFraction, gapChartSpec, sweepLabels, systemFigures, type ChartKind } from "./charts.js";
import { renderPage, STYLE, type PageModel, type PagePrecision } from "./page.js";
import { renderChartSvg } from "./vegaSvg.js";
import { formatEnergy, formatSeconds } from "../table.js";

const DASH = "–";

const percent = (v: number | null, digits = 2) => (v === null || !Number.isFinite(v) ? DASH : `${(v * 100).toFixed(digits)}%`);

/** A number in SI units with four significant digits: 2.3e-13 J → "0.23 pJ". */
function si(v: number, unit: string): string {
  if (v === 0) return `0 ${unit}`;
  if (!Number.isFinite(v)) return DASH;
  const prefixes: [number, string][] = [
    [1e12, "T"],
    [1e9, "G"],
    [1e6, "M"],
    [1e3, "k"],
    [1, ""],
    [1e-3, "m"],
    [1e-6, "µ"],
    [1e-9, "n"],
    [1e-12, "p"],
  ];
  const [scale, prefix] = prefixes.find(([s]) => Math.abs(v) >= s) ?? [1e-12, "p"];
  return `${Number((v / scale).toPrecision(4))} ${prefix}${unit}`;
}

function bytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(2)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${Number(n.toFixed(1))} B`;
}

const energy = (j: number) => (j === 0 ? "0" : formatEnergy(j));
const seconds = (s: number) => (s === 0 ? "0" : formatSeconds(s));

const plain = (v: number) => String(Number(v.toPrecision(6)));

function metricValue(metric: Calibration["target"]["metric"], v: number): string {
  switch (metric) {
    case "cloud_fraction":
    case "accuracy":
      return percent(v);
    case "energy":
      return formatEnergy(v);
    case "latency":
      return formatSeconds(v);
  }
}

function systemRow(key: string, f: SystemFigures, description: string, exitNames: string[]): PageModel["systems"][number] {
  return {
    key,
    rowClass: key === "routed" ? "routed" : "baseline",
    description,
    accuracy: percent(f.accuracy),
    fractions: exitNames.map((e) => percent(f.fractions[e] ?? null, 1)),
    edgeMacs: formatCount(Math.round(f.edgeMacs)),
    bytesSent: bytes(f.bytesSent),
    energy: energy(f.energyJ),
    latency: seconds(f.latencyS),
    cloudMacs: formatCount(Math.round(f.cloudMacs)),
    cloudEnergy: energy(f.cloudEnergyJ),
    cloudLatency: seconds(f.cloudLatencyS),
  };
}

function oracleGainText(r: EvalReport): string {
  const { edgeOnly, oracle } = r.baselines;
  const figures = `routed ${percent(r.routed.accuracy)}, edge only ${percent(edgeOnly.accuracy)}, oracle ${percent(oracle.accuracy)}`;
  if (r.oracleGainRecovered === null) return `Oracle gain recovered: none to recover, the oracle router is no more accurate than the edge alone; ${figures}.`;
  if (r.oracleGainRecovered < 0) return `Oracle gain recovered: none; the routed system is less accurate than the edge alone (${percent(r.oracleGainRecovered, 1)} by (routed − edge only) / (oracle − edge only)); ${figures}.`;
  return `Oracle gain recovered: ${percent(r.oracleGainRecovered, 1)} of the accuracy the oracle router adds over the edge alone, (routed − edge only) / (oracle − edge only); ${figures}.`;
}

function assertionSummary(assertions: AssertionOutcome[]): string {
  if (!assertions.length) return "none in the spec";
  const count = (s: AssertionOutcome["status"]) => assertions.filter((a) => a.status === s).length;
  const parts = [`${count("passed")} passed`, `${count("failed")} failed`];
  if (count("unmeasured")) parts.push(`${count("unmeasured")} not measured`);
  return parts.join(", ");
}

function precisionRoutedRow(key: string, name: string, f: PrecisionRouted, exitNames: string[]): PagePrecision["routed"][number] {
  return { key, rowClass: key === "shipped" ? "routed" : "baseline", name, accuracy: percent(f.accuracy), fractions: exitNames.map((e) => percent(f.fractions[e] ?? null, 1)) };
}

/** Each exported file's weight bytes as compiled and as shipped, when eval.json has them. */
function weightRows(report: EvalReport): { hasWeights: boolean; weights: { file: string; precision: string; compiled: string; shipped: string; difference: string }[] } {
  const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  const weights = report.costModel.files.flatMap((f) => {
    const w = f.weightBytes;
    if (!w) return [];
    const d = (w.shipped / w.compiled - 1) * 100;
    return [{ file: f.path, precision: f.precision, compiled: kib(w.compiled), shipped: kib(w.shipped), difference: `${d >= 0 ? "+" : "−"}${Math.abs(d).toFixed(1)}%` }];
  });
  return { hasWeights: weights.length > 0, weights };
}

/** The table of the shipped files against their float32 references, and what its rows mean. */
function precisionModel(p: PrecisionComparison, exitNames: string[], calibrated: boolean): PagePrecision {
  const at = shippedPrecisions(p);
  const { routed } = p;
  const moved = routed.referenceAtCloudFraction;
  const rows = [precisionRoutedRow("shipped", `shipped (${at})`, routed.shipped, exitNames), precisionRoutedRow("reference", "float32 reference, same thresholds", routed.reference, exitNames)];
  if (moved) rows.push(precisionRoutedRow("referenceAtCloudFraction", "float32 reference, same cloud fraction", moved, exitNames));
  const notes = [
    `Same thresholds: the rule as above, with the shipped system's thresholds${calibrated ? ", which are calibrated on the validation outputs of the shipped files, not of the references" : ""}. The two send ${percent(routed.sameExit)} of the test inputs to the same exit and give the same answer for ${percent(routed.agreement)}.`,
  ];
  if (moved) notes.push(`Same cloud fraction: the float32 reference with ${moved.condition.replace(/ t$/, ` ${plain(moved.threshold)}`)}, the threshold that sends as many test inputs to the cloud as the shipped system (${percent(routed.shipped.cloudFraction, 1)}).`);
  notes.push("Energy and latency are not given for the references: the cost model prices the files that ship, at their precision.");
  return {
    title: `Shipped (${at}) vs float32 reference`,
    intro: `The same test inputs through the float32 reference of each file that ships at another precision or reads a quantized tensor (${p.files.map((f) => `${f.reference} for ${f.path}, ${f.precision}`).join("; ")}), every other file as it ships. Accuracy per exit on the test inputs of its classes; top-1 agreement on every test input.`,
    exits: p.exits.map((x) => ({ name: x.exit, file: x.file, precision: x.precision, reference: x.reference, samples: String(x.samples), shipped: percent(x.accuracy.shipped), referenceAccuracy: percent(x.accuracy.reference), agreement: percent(x.agreement) })),
    routed: rows,
    notes,
  };
}

const CHARTS: { kind: ChartKind; id: string; title: string; caption: string }[] = [
  { kind: "cloudFraction", id: "chart-cloud-fraction", title: "Accuracy against the fraction of inputs sent to the cloud", caption: "Each sweep moves one threshold from never to always sending inputs to the cloud; the baselines sit at their own cloud fraction." },
  { kind: "energy", id: "chart-energy", title: "Accuracy against edge energy per input", caption: "Edge energy by the device model, log scale when every value is positive: sending an input usually costs far more than the edge's own MACs." },
];

/** The gap-recovery chart, when the report has a gap to recover. */
function gapChart(report: EvalReport): { id: string; title: string; caption: string; svg: string }[] {
  const spec = gapChartSpec(report);
  const g = report.gapRecovery;
  if (!spec || !g) return [];
  const apgr = g.curves.map((c) => `${c.system} ${percent(c.apgr)} (0–10%: ${percent(c.apgrLow)})`).join(", ");
  return [
    {
      id: "chart-gap",
      title: "Gap recovered against the fraction of inputs sent to the cloud",
      caption: `PGR = (accuracy − edge only) / (cloud only − edge only), edge only ${percent(g.edgeOnly)} and cloud only ${percent(g.cloudOnly)}. Random routing sends each input to the cloud with probability f (its expected PGR is f). Mean PGR over cloud fractions 0–100% (APGR): ${apgr}.`,
      svg: renderChartSvg(spec),
    },
  ];
}

export function emitEvalReportHtml(report: EvalReport): string {
  const exitNames = Object.keys(report.routed.fractions);
  const failed = report.assertions.some((a) => a.status === "failed");
  const standalone = new Map(report.exitStandalone.map((e) => [e.exit, e]));
  const exitRows = [...exitNames, ...report.exitStandalone.map((e) => e.exit).filter((e) => !exitNames.includes(e))];

  const model: PageModel = {
    style: STYLE,
    model: report.model,
    buildId: report.buildId,
    dataSource: report.data.source,
    split: report.data.split,
    samples: String(report.data.samples),
    classes: `${report.labels.length}: ${report.labels.join(", ")}`,
    hardClasses: report.hardClasses.length ? `${report.hardClasses.length}: ${report.hardClasses.join(", ")}` : "none",
    assertionSummary: assertionSummary(report.assertions),
    anyFailed: failed,
    seconds: `${report.seconds.toFixed(1)} s`,
    rule: report.rule,
    exitNames,
    systems: systemFigures(report).map(([key, f]) => systemRow(key, f, key === "routed" ? `the spec's rule; cloud fraction ${percent(cloudFraction(report, f), 1)}` : report.baselines[key].description, exitNames)),
    oracleGain: oracleGainText(report),
    sweepList: report.sweeps.length ? sweepLabels(report).join("; ") : "none in this report",
    charts: [...CHARTS.map((c) => ({ id: c.id, title: c.title, caption: c.caption, svg: renderChartSvg(chartSpec(report, c.kind)) })), ...gapChart(report)],
    hasCalibration: report.calibration.length > 0,
    calibration: report.calibration.map((c) => ({
      rowClass: c.met ? "passed" : "failed",
      condition: c.condition,
      target: `${c.target.metric} ${metricValue(c.target.metric, c.target.value)}`,
      threshold: plain(c.threshold),
      samples: String(c.validation.samples),
      validation: metricValue(c.target.metric, c.validation.value),
      test: metricValue(c.target.metric, c.test.value),
      met: c.met ? "yes" : "no: the closest threshold was taken",
    })),
    hasAssertions: report.assertions.length > 0,
    assertions: report.assertions.map((a) => ({ status: a.status, text: a.text, loc: a.loc ?? DASH, value: a.value === null ? "not measured" : plain(a.value) })),
    exits: exitRows.map((name) => {
      const s = standalone.get(name);
      return {
        name,
        file: s?.file ?? DASH,
        precision: s?.precision ?? DASH,
        fraction: percent(report.routed.fractions[name] ?? null, 1),
        accuracy: percent(report.routed.exitAccuracy[name] ?? null),
        classes: s?.classes ?? DASH,
        samples: s ? String(s.samples) : DASH,
        standalone: s ? percent(s.accuracy) : DASH,
      };
    }),
    hasPrecision: report.precision !== undefined,
    precision: report.precision ? precisionModel(report.precision, exitNames, report.calibration.length > 0) : null,
    perClass: report.perClass.map((c) => ({
      label: c.label,
      kind: c.hard ? "hard" : "easy",
      samples: String(c.samples),
      accuracy: percent(c.accuracy, 1),
      barWidth: `${(Math.min(1, Math.max(0, c.accuracy)) * 100).toFixed(1)}%`,
    })),
    devices: [
      {
        name: "edge",
        preset: report.costModel.edge.preset ?? DASH,
        precision: report.costModel.edge.precision,
        energyPerMac: si(report.costModel.edge.energyPerMacJ, "J"),
        throughput: si(report.costModel.edge.throughputMacsPerS, "MAC/s"),
        energyPerBit: si(report.costModel.edge.energyPerBitJ, "J"),
        uplink: si(report.costModel.edge.uplinkBps, "bit/s"),
        rtt: formatSeconds(report.costModel.edge.rttS),
      },
      { name: "cloud", preset: report.costModel.cloud.preset ?? DASH, precision: report.costModel.cloud.precision, energyPerMac: si(report.costModel.cloud.energyPerMacJ, "J"), throughput: si(report.costModel.cloud.throughputMacsPerS, "MAC/s"), energyPerBit: DASH, uplink: DASH, rtt: DASH },
    ],
    ...weightRows(report),
    macPrecision: (["edge", "cloud"] as const).map((d) => `The ${d}'s energy per MAC, ${si(report.costModel[d].energyPerMacJ, "J")}, is ${macPrecisionText(report.costModel, d)}.`),
    hasSources: report.costModel.sources.length > 0,
    sources: report.costModel.sources,
  };
  return renderPage(model);
}
