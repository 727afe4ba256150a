/**
 * The report's two charts as vega-lite specs: accuracy against the fraction of inputs sent to the
 * cloud, and against edge energy per input. Each holds the threshold sweeps as line series and the
 * routed system and the baselines as labelled points.
 *
 * Every mark group is named after its series (`routed_sweep_line`, `entropyExit_sweep_points`,
 * `operating_points`, …): vega writes the name into the group's class (`…_marks`), which is how a
 * reader of the SVG finds a series. Names come from fixed identifiers, never from the report's text.
 */
import type { TopLevelSpec } from "vega-lite";
import type { EvalReport, GapCurve, Sweep, SystemFigures } from "../../format/eval.js";
import { placeLabels, type Plot } from "./labels.js";

/** The systems drawn as operating points, in the order their labels are placed. */
export const SYSTEMS = ["routed", "edgeOnly", "edgeWithExtension", "cloudOnly", "entropyExit", "oracle"] as const;
export type SystemName = (typeof SYSTEMS)[number];

/** Colours per system; a sweep takes its system's colour. The page uses none of them elsewhere. */
export const SYSTEM_COLORS: Record<SystemName, string> = {
  routed: "#1f5fbf",
  edgeOnly: "#2a9d3c",
  edgeWithExtension: "#0e9aa7",
  cloudOnly: "#8a4fc4",
  entropyExit: "#e8710a",
  oracle: "#d1242f",
};

const SYSTEM_SHAPES: Record<SystemName, string> = {
  routed: "diamond",
  edgeOnly: "circle",
  edgeWithExtension: "square",
  cloudOnly: "triangle-up",
  entropyExit: "triangle-down",
  oracle: "cross",
};

/** Size of the plotting area in pixels (axes and legends come on top). */
const PLOT = { width: 560, height: 300 };

export type ChartKind = "cloudFraction" | "energy";

interface AxisModel {
  title: string;
  type: "linear" | "log";
  domain: [number, number];
  values: number[];
  format: string;
  /** A vega expression for the tick labels, when the format alone does not say the unit. */
  labelExpr?: string;
}

interface ChartPoint {
  x: number;
  y: number;
}

const round = (v: number) => Number(v.toPrecision(12));

function percent(v: number, digits: number): string {
  return `${(v * 100).toFixed(digits)}%`;
}

function energyText(j: number): string {
  return j >= 1e-3 ? `${(j * 1e3).toPrecision(3)} mJ` : j >= 1e-6 ? `${(j * 1e6).toPrecision(3)} µJ` : `${(j * 1e9).toPrecision(3)} nJ`;
}

/** Accuracy axis: from the lowest to the highest accuracy drawn, widened to whole steps. */
function accuracyAxis(values: number[]): AxisModel {
  const finite = values.filter(Number.isFinite);
  const lo0 = finite.length ? Math.min(...finite) : 0;
  const hi0 = finite.length ? Math.max(...finite) : 1;
  const span = hi0 - lo0;
  const step = span > 0.4 ? 0.1 : span > 0.15 ? 0.05 : span > 0.06 ? 0.02 : 0.01;
  // A little room beyond the extremes, so that no point sits on the frame.
  const pad = Math.max(span * 0.03, 0.002);
  let lo = Math.max(0, Math.floor((lo0 - pad) / step) * step);
  let hi = Math.min(1, Math.ceil((hi0 + pad) / step) * step);
  if (hi - lo < step) [lo, hi] = [Math.max(0, hi - step), Math.min(1, lo + step)];
  const ticks: number[] = [];
  for (let i = 0; lo + i * step <= hi + step / 1e6; i++) ticks.push(round(lo + i * step));
  return { title: "accuracy on the test split", type: "linear", domain: [round(lo), round(hi)], values: ticks, format: ".0%" };
}

function cloudFractionAxis(): AxisModel {
  return { title: "fraction of inputs sent to the cloud", type: "linear", domain: [0, 1], values: Array.from({ length: 11 }, (_, i) => round(i / 10)), format: ".0%" };
}

/** Tick labels with SI prefixes and the unit: 1e-6 → "1µJ". */
const JOULES = "format(datum.value, '~s') + 'J'";

/** Energy spans orders of magnitude (a sent image costs far more than edge MACs): log scale by decades when every value is positive. */
function energyAxis(values: number[]): AxisModel {
  const finite = values.filter(Number.isFinite);
  if (finite.length && finite.every((v) => v > 0)) {
    let lo = Math.floor(Math.log10(Math.min(...finite)));
    let hi = Math.ceil(Math.log10(Math.max(...finite)));
    if (hi === lo) [lo, hi] = [lo - 1, hi + 1];
    const ticks = Array.from({ length: hi - lo + 1 }, (_, i) => Number(`1e${lo + i}`));
    return { title: "edge energy per input (log scale)", type: "log", domain: [ticks[0]!, ticks[ticks.length - 1]!], values: ticks, format: "~s", labelExpr: JOULES };
  }
  // A zero or negative energy (a degenerate cost model): linear from zero, in steps of 1, 2 or 5 × 10^k.
  const hi = finite.length ? Math.max(...finite, 0) : 0;
  const raw = (hi > 0 ? hi : 1e-6) / 5;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((v) => v >= raw)!;
  const n = Math.max(1, Math.ceil(hi / step));
  const ticks = Array.from({ length: n + 1 }, (_, i) => round(i * step));
  return { title: "edge energy per input", type: "linear", domain: [0, ticks[n]!], values: ticks, format: "~s", labelExpr: JOULES };
}

/** Pixel position along an axis, as vega's scale computes it (range [0, length]). */
function toPixel(axis: AxisModel, v: number, length: number): number {
  const [a, b] = axis.domain;
  if (axis.type === "log") return ((Math.log10(v) - Math.log10(a)) / (Math.log10(b) - Math.log10(a))) * length;
  return ((v - a) / (b - a)) * length;
}

function fromPixel(axis: AxisModel, p: number, length: number): number {
  const [a, b] = axis.domain;
  if (axis.type === "log") return round(10 ** (Math.log10(a) + (p / length) * (Math.log10(b) - Math.log10(a))));
  return round(a + (p / length) * (b - a));
}

/** Pixels along a polyline every few pixels: labels should not sit on the sweep lines either. */
function alongLine(points: ChartPoint[]): ChartPoint[] {
  const out: ChartPoint[] = [];
  points.forEach((p, i) => {
    out.push(p);
    const q = points[i + 1];
    if (!q) return;
    const steps = Math.floor(Math.hypot(q.x - p.x, q.y - p.y) / 4);
    for (let k = 1; k < steps; k++) out.push({ x: p.x + ((q.x - p.x) * k) / steps, y: p.y + ((q.y - p.y) * k) / steps });
  });
  return out;
}

function sweepPoints(sweep: Sweep, kind: ChartKind): ChartPoint[] {
  // A sweep is a curve in its threshold; ordered by the cloud fraction it sends, drawn in that order in both charts.
  const sorted = [...sweep.points].sort((p, q) => p.cloudFraction - q.cloudFraction || p.energyJ - q.energyJ || p.accuracy - q.accuracy);
  return sorted.map((p) => ({ x: kind === "cloudFraction" ? p.cloudFraction : p.energyJ, y: p.accuracy })).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
}

/** Sweeps keyed by a fixed series name: the system, with a number when a system is swept twice. */
function namedSweeps(report: EvalReport): { key: string; system: SystemName; sweep: Sweep }[] {
  const seen = new Map<string, number>();
  return report.sweeps.map((sweep) => {
    const n = (seen.get(sweep.system) ?? 0) + 1;
    seen.set(sweep.system, n);
    return { key: n === 1 ? sweep.system : `${sweep.system}${n}`, system: sweep.system, sweep };
  });
}

/** The legend text of each sweep: its series name and the swept condition as written in the spec. */
export function sweepLabels(report: EvalReport): string[] {
  return namedSweeps(report).map(({ key, sweep }) => `${key} sweep: ${sweep.condition}`);
}

export function systemFigures(report: EvalReport): [SystemName, SystemFigures][] {
  return SYSTEMS.map((s) => [s, s === "routed" ? report.routed : report.baselines[s]]);
}

/** A position channel of the chart: the field and its scale and axis. */
type Channel = ReturnType<typeof channels>["x"] | ReturnType<typeof channels>["y"];

/** The x and y channels of a chart from its axis models. */
function channels(xAxis: AxisModel, yAxis: AxisModel) {
  const x = { field: "x", type: "quantitative" as const, title: xAxis.title, scale: xAxis.type === "log" ? { type: "log" as const, domain: xAxis.domain, nice: false } : { type: "linear" as const, domain: xAxis.domain, nice: false, zero: false }, axis: { values: xAxis.values, format: xAxis.format, grid: true, ...(xAxis.labelExpr ? { labelExpr: xAxis.labelExpr } : {}) } };
  const y = { field: "y", type: "quantitative" as const, title: yAxis.title, scale: { type: yAxis.type, domain: yAxis.domain, nice: false, zero: false }, axis: { values: yAxis.values, format: yAxis.format, grid: true } };
  return { x, y };
}

type NamedSweep = ReturnType<typeof namedSweeps>[number] & { points: ChartPoint[] };
type OperatingPoint = { system: SystemName; x: number; y: number };

/** Each sweep as a line and its points, coloured like the system it sweeps. */
function sweepLayers(report: EvalReport, sweeps: NamedSweep[], x: Channel, y: Channel, xText: (v: number) => string) {
  const sweepDomain = sweepLabels(report);
  const sweepRange = sweeps.map((s) => SYSTEM_COLORS[s.system]);
  return sweeps.flatMap(({ key, system, sweep, points }, k) => {
    const values = points.map((p, i) => ({
      x: p.x,
      y: p.y,
      order: i,
      series: sweepDomain[k]!,
      desc: `${key} sweep point ${i + 1}: ${xText(p.x)}, accuracy ${percent(p.y, 2)}`,
      line: `${key} sweep, ${sweep.condition}: ${points.length} points`,
    }));
    return [
      {
        name: `${key}_sweep_line`,
        data: { values },
        mark: { type: "line" as const, strokeWidth: 2, interpolate: "linear" as const },
        encoding: { x, y, order: { field: "order", type: "quantitative" as const }, stroke: { field: "series", type: "nominal" as const, scale: { domain: sweepDomain, range: sweepRange }, legend: { title: "threshold sweeps", symbolType: "stroke", symbolStrokeWidth: 2 } }, description: { field: "line" } },
      },
      {
        name: `${key}_sweep_points`,
        data: { values },
        mark: { type: "point" as const, filled: true, size: 22, opacity: 1, color: SYSTEM_COLORS[system] },
        encoding: { x, y, description: { field: "desc" } },
      },
    ];
  });
}

/** The operating points' names, placed where they overlap neither a point nor a sweep line. */
function labelLayers(operating: OperatingPoint[], sweeps: NamedSweep[], xAxis: AxisModel, yAxis: AxisModel, x: Channel, y: Channel) {
  const plot: Plot = { width: PLOT.width, height: PLOT.height };
  const px = (p: ChartPoint) => ({ x: toPixel(xAxis, p.x, PLOT.width), y: PLOT.height - toPixel(yAxis, p.y, PLOT.height) });
  const labels = placeLabels(
    plot,
    operating.map((p) => ({ text: p.system, at: px(p), radius: 7 })),
    sweeps.flatMap((s) => alongLine(s.points.map(px))),
  );
  const labelValues = labels.map((l) => ({ x: fromPixel(xAxis, l.x, PLOT.width), y: fromPixel(yAxis, PLOT.height - l.y, PLOT.height), text: l.text, align: l.align }));
  return (["left", "center", "right"] as const)
    .map((align) => ({ align, values: labelValues.filter((l) => l.align === align) }))
    .filter((g) => g.values.length > 0)
    .map(({ align, values }) => ({
      name: `operating_labels_${align}`,
      data: { values },
      mark: { type: "text" as const, align, baseline: "middle" as const, fontSize: 11, color: "#222222" },
      encoding: { x, y, text: { field: "text", type: "nominal" as const }, description: { field: "text" } },
    }));
}

/** Every system's operating point, filled and shaped by system. */
function operatingLayer(operating: OperatingPoint[], x: Channel, y: Channel, xText: (v: number) => string) {
  const pointValues = operating.map((p) => ({
    x: p.x,
    y: p.y,
    system: p.system,
    desc: `${p.system}: ${xText(p.x)}, accuracy ${percent(p.y, 2)}`,
  }));
  return {
    name: "operating_points",
    data: { values: pointValues },
    mark: { type: "point" as const, filled: true, size: 110, opacity: 1, stroke: "#ffffff", strokeWidth: 1 },
    encoding: {
      x,
      y,
      fill: { field: "system", type: "nominal" as const, scale: { domain: [...SYSTEMS], range: SYSTEMS.map((s) => SYSTEM_COLORS[s]) }, legend: { title: "operating points" } },
      shape: { field: "system", type: "nominal" as const, scale: { domain: [...SYSTEMS], range: SYSTEMS.map((s) => SYSTEM_SHAPES[s]) }, legend: { title: "operating points" } },
      description: { field: "desc" },
    },
  };
}

const CHART_CONFIG = {
  font: "sans-serif",
  view: { stroke: "#cccccc" },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: "normal", gridColor: "#e8e8e8", domainColor: "#888888", tickColor: "#888888" },
  legend: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: "normal", labelLimit: 320, orient: "right" },
};

/** A chart's frame (size, background, fonts) around its layers. */
function framed(description: string, layer: unknown[]): TopLevelSpec {
  return { description, width: PLOT.width, height: PLOT.height, padding: 8, background: "#ffffff", autosize: { type: "pad" }, config: CHART_CONFIG, layer } as TopLevelSpec;
}

export function chartSpec(report: EvalReport, kind: ChartKind): TopLevelSpec {
  const sweeps: NamedSweep[] = namedSweeps(report).map((s) => ({ ...s, points: sweepPoints(s.sweep, kind) }));
  const operating: OperatingPoint[] = systemFigures(report)
    .map(([system, f]) => ({ system, x: kind === "cloudFraction" ? cloudFraction(report, f) : f.energyJ, y: f.accuracy }))
    .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));

  const xs = [...sweeps.flatMap((s) => s.points.map((p) => p.x)), ...operating.map((p) => p.x)];
  const ys = [...sweeps.flatMap((s) => s.points.map((p) => p.y)), ...operating.map((p) => p.y)];
  const xAxis = kind === "cloudFraction" ? cloudFractionAxis() : energyAxis(xs);
  const yAxis = accuracyAxis(ys);
  const { x, y } = channels(xAxis, yAxis);
  const xText = (v: number) => (kind === "cloudFraction" ? `cloud fraction ${percent(v, 2)}` : `edge energy ${energyText(v)}`);

  return framed(kind === "cloudFraction" ? "accuracy against the fraction of inputs sent to the cloud" : "accuracy against edge energy per input", [
    ...sweepLayers(report, sweeps, x, y, xText),
    operatingLayer(operating, x, y, xText),
    ...labelLayers(operating, sweeps, xAxis, yAxis, x, y),
  ]);
}

const CURVE_COLORS: Record<GapCurve["system"], string> = { routed: SYSTEM_COLORS.routed, entropyExit: SYSTEM_COLORS.entropyExit, random: "#777777" };
const CURVE_TITLES: Record<GapCurve["system"], string> = { routed: "routed sweep", entropyExit: "entropy exit sweep", random: "random routing" };

/** PGR axis: at least 0–100%, wider when a curve or point leaves it, in steps of 10% or 20%. */
function pgrAxis(values: number[]): AxisModel {
  const finite = values.filter(Number.isFinite);
  const lo0 = Math.min(0, ...finite);
  const hi0 = Math.max(1, ...finite);
  const step = hi0 - lo0 > 1.5 ? 0.2 : 0.1;
  const lo = Math.floor(lo0 / step) * step;
  const hi = Math.ceil(hi0 / step) * step;
  const ticks: number[] = [];
  for (let i = 0; lo + i * step <= hi + step / 1e6; i++) ticks.push(round(lo + i * step));
  return { title: "gap recovered (PGR)", type: "linear", domain: [round(lo), round(hi)], values: ticks, format: ".0%" };
}

/**
 * PGR against the cloud fraction: one line per curve of `gapRecovery` (the routed sweep, the entropy
 * exit's, random routing) and the systems' operating points; null when the report has no gap.
 */
export function gapChartSpec(report: EvalReport): TopLevelSpec | null {
  const g = report.gapRecovery;
  if (!g) return null;
  const xAxis = cloudFractionAxis();
  const operating = Object.entries(g.systems).filter(([name]) => (SYSTEMS as readonly string[]).includes(name)) as [SystemName, { cloudFraction: number; pgr: number }][];
  const yAxis = pgrAxis([...g.curves.flatMap((c) => c.points.map((p) => p.pgr)), ...operating.map(([, o]) => o.pgr)]);
  const { x, y } = channels(xAxis, yAxis);
  const domain = g.curves.map((c) => `${CURVE_TITLES[c.system]}: APGR ${percent(c.apgr, 1)}`);
  const lines = g.curves.flatMap((c, k) => {
    const values = c.points.map((p, i) => ({ x: p.cloudFraction, y: p.pgr, order: i, series: domain[k]!, desc: `${CURVE_TITLES[c.system]} point ${i + 1}: cloud fraction ${percent(p.cloudFraction, 2)}, PGR ${percent(p.pgr, 1)}` }));
    return [
      {
        name: `${c.system}_gap_line`,
        data: { values },
        mark: { type: "line" as const, strokeWidth: 2, interpolate: "linear" as const, ...(c.system === "random" ? { strokeDash: [6, 4] } : {}) },
        encoding: { x, y, order: { field: "order", type: "quantitative" as const }, stroke: { field: "series", type: "nominal" as const, scale: { domain, range: g.curves.map((cc) => CURVE_COLORS[cc.system]) }, legend: { title: "curves", symbolType: "stroke", symbolStrokeWidth: 2 } }, description: { field: "desc" } },
      },
    ];
  });
  const points = {
    name: "gap_operating_points",
    data: { values: operating.map(([system, o]) => ({ x: o.cloudFraction, y: o.pgr, system, desc: `${system}: cloud fraction ${percent(o.cloudFraction, 2)}, PGR ${percent(o.pgr, 1)}` })) },
    mark: { type: "point" as const, filled: true, size: 110, opacity: 1, stroke: "#ffffff", strokeWidth: 1 },
    encoding: {
      x,
      y,
      fill: { field: "system", type: "nominal" as const, scale: { domain: operating.map(([s]) => s), range: operating.map(([s]) => SYSTEM_COLORS[s]) }, legend: { title: "operating points" } },
      shape: { field: "system", type: "nominal" as const, scale: { domain: operating.map(([s]) => s), range: operating.map(([s]) => SYSTEM_SHAPES[s]) }, legend: { title: "operating points" } },
      description: { field: "desc" },
    },
  };
  return framed("share of the cloud's accuracy gain over the edge alone recovered, against the fraction of inputs sent to the cloud", [...lines, points]);
}

/** The cloud fraction of a system: the fraction answered at cloud exits, known from the cloud-only baseline's exits. */
export function cloudFraction(report: EvalReport, f: SystemFigures): number {
  const cloudExits = Object.entries(report.baselines.cloudOnly.fractions)
    .filter(([, v]) => v > 0)
    .map(([k]) => k);
  return round(cloudExits.reduce((s, k) => s + (f.fractions[k] ?? 0), 0));
}
