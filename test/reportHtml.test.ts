/**
 * report.html of `meanet eval`, from a fixture EvalReport (Fashion-MNIST, exits main / extension /
 * cloud): the page's content and escaping, the two vega charts and their series, and determinism.
 * The fixture's run predates per-device precision: its files shipped in float32 while the edge's
 * energy per MAC is int8's, and it has no comparison with float32 references; the int8 case is the
 * fixture with an int8 export's files and a comparison section put in (`withInt8`).
 * The page as headless Chromium renders it is test/reportHtml.e2e.test.ts.
 */
import { readFileSync } from "node:fs";
import * as vega from "vega";
import { describe, expect, it } from "vitest";
import type { EvalReport } from "../src/format/eval.js";
import { emitEvalReportHtml } from "../src/codegen/reportHtml/index.js";
import { chartSpec, SYSTEM_COLORS, SYSTEMS } from "../src/codegen/reportHtml/charts.js";
import { compileChart, renderChartSvg } from "../src/codegen/reportHtml/vegaSvg.js";
import { count, markGroup } from "./helpers/svg.js";
import { gapRecovery } from "../src/runtime/eval/gap.js";

const FIXTURE = "test/fixtures/eval-report.json";
const fixture = (): EvalReport => JSON.parse(readFileSync(FIXTURE, "utf8")) as EvalReport;
const report = fixture();
const html = emitEvalReportHtml(report);
const routedSweep = report.sweeps.find((s) => s.system === "routed")!;
const entropySweep = report.sweeps.find((s) => s.system === "entropyExit")!;

/** The figure holding a chart, from `<figure … id=ID>` to its `</figure>`. */
function figure(page: string, id: string): string {
  const start = page.indexOf(`<figure class="chart" id="${id}">`);
  expect(start, `figure #${id}`).toBeGreaterThanOrEqual(0);
  return page.slice(start, page.indexOf("</figure>", start));
}

/** Text as a browser reads it from the escapes handlebars writes. */
const unescapeHtml = (s: string) =>
  s.replace(/&(lt|gt|quot|#x27|#x60|#x3D|amp);/g, (_, e: string) => ({ lt: "<", gt: ">", quot: '"', "#x27": "'", "#x60": "`", "#x3D": "=", amp: "&" })[e]!);

/** Every string of the report with markup appended, for escaping tests; exit names stay (they are spec identifiers). */
function hostile(r: EvalReport, tag: string): EvalReport {
  const h = (s: string) => `${s}${tag}`;
  const c = structuredClone(r);
  c.model = h(c.model);
  c.buildId = h(c.buildId);
  c.data.source = h(c.data.source);
  c.labels = c.labels.map(h);
  c.hardClasses = c.hardClasses.map(h);
  c.rule = c.rule.map(h);
  for (const b of Object.values(c.baselines)) b.description = h(b.description);
  c.perClass = c.perClass.map((p) => ({ ...p, label: h(p.label) }));
  c.exitStandalone = c.exitStandalone.map((e) => ({ ...e, classes: h(e.classes), file: h(e.file) }));
  c.costModel.files = c.costModel.files.map((f) => ({ ...f, path: h(f.path) }));
  if (c.precision) {
    c.precision.files = c.precision.files.map((f) => ({ ...f, path: h(f.path), reference: h(f.reference) }));
    c.precision.exits = c.precision.exits.map((x) => ({ ...x, file: h(x.file), reference: x.reference === null ? null : h(x.reference) }));
    const moved = c.precision.routed.referenceAtCloudFraction;
    if (moved) moved.condition = h(moved.condition);
  }
  c.sweeps = c.sweeps.map((s) => ({ ...s, condition: h(s.condition) }));
  c.calibration = c.calibration.map((x) => ({ ...x, condition: h(x.condition) }));
  c.assertions = c.assertions.map((a) => ({ ...a, text: h(a.text), loc: a.loc === null ? null : h(a.loc), metric: h(a.metric) }));
  c.costModel.sources = c.costModel.sources.map(h);
  if (c.costModel.edge.preset) c.costModel.edge.preset = h(c.costModel.edge.preset);
  return c;
}

describe("emitEvalReportHtml", () => {
  it("holds the header, the routing rule and the summary of the routed system and the five baselines", () => {
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(html).toContain("<h1>fashion_mnist: evaluation report</h1>");
    expect(html).toContain("<code>5be3c0a9d71f24e8</code>");
    expect(html).toContain("Fashion-MNIST from /usr/share/datasets/fashion-mnist (--data)");
    expect(html).toContain("test, 10000 samples");
    expect(html).toContain("  cloud when max_prob(main) &lt; 0.71331 (calibrated: cloud_fraction 0.2)\n  main when argmax(main) in easy\n  extension otherwise\n}");

    const summary = html.slice(html.indexOf('<table id="summary-table">'), html.indexOf("</table>", html.indexOf('<table id="summary-table">')));
    const rows = [...summary.matchAll(/<tr class="[a-z]+" data-system="([A-Za-z]+)">(.*?)<\/tr>/g)];
    expect(rows.map((r) => r[1])).toEqual(["routed", "edgeOnly", "edgeWithExtension", "cloudOnly", "entropyExit", "oracle"]);
    const cells = (system: string) => [...rows.find((r) => r[1] === system)![2]!.matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((m) => m[1]);
    // system, accuracy, main / extension / cloud, edge MACs, bytes, energy, latency, cloud MACs, energy, latency
    expect(cells("routed")).toEqual(["routed", "93.22%", "50.1%", "29.6%", "20.3%", "2.63 M", "159.2 B", "361.320 µJ", "2.152 ms", "2.26 M", "10.395 µJ", "2.099 ms"]);
    expect(cells("cloudOnly").slice(0, 5)).toEqual(["cloudOnly", "93.18%", "0.0%", "0.0%", "100.0%"]);
    expect(cells("cloudOnly")[7]).toBe("1.776 mJ");
    expect(cells("oracle")[1]).toBe("96.55%");
    expect(html).toContain("Oracle gain recovered: 45.2% of the accuracy the oracle router adds over the edge alone");
    for (const b of Object.values(report.baselines)) expect(html).toContain(b.description.replace(/'/g, "&#x27;"));
  });

  it("holds calibration, assertions (failed ones marked), exits, per-class accuracy and the cost model with sources", () => {
    expect(html).toMatch(/<section id="calibration">[\s\S]*<code>max_prob\(main\) &lt; t<\/code><\/td><td>cloud_fraction 20\.00%<\/td><td class="num">0\.71331<\/td><td class="num">6000<\/td><td class="num">19\.95%<\/td><td class="num">20\.31%<\/td><td class="status">yes/);
    const assertions = html.slice(html.indexOf('<section id="assertions">'), html.indexOf("</section>", html.indexOf('<section id="assertions">')));
    expect([...assertions.matchAll(/<tr class="(passed|failed|unmeasured)"><td class="status">\1<\/td><td><code>([^<]*)<\/code>/g)].map((m) => [m[1], unescapeHtml(m[2]!)])).toEqual([
      ["passed", "main.accuracy >= 0.9"],
      ["passed", "cloud.accuracy >= 0.925"],
      ["failed", "cloud_fraction <= 0.2"],
      ["passed", "accuracy >= 0.93"],
    ]);
    expect(html).toMatch(/tr\.failed td \{ background: #[0-9a-f]{6}; \}/);
    expect(html).toContain('<dd class="status-line bad">3 passed, 1 failed</dd>');
    expect(html).toContain('<tr><td>extension</td><td><code>edge/extension.onnx</code></td><td>fp32</td><td class="num">29.6%</td><td class="num">90.51%</td><td>hard</td><td class="num">5000</td><td class="num">86.24%</td></tr>');
    expect(count(html.slice(html.indexOf('<section id="per-class">')), '<span class="bar"')).toBe(10);
    expect(html).toContain('<tr><td>Shirt</td><td>hard</td><td class="num">1000</td><td class="num">80.1%</td>');
    expect(html).toContain('<tr><td>edge</td><td>edge_int8_45nm</td><td>int8</td><td class="num">0.23 pJ</td><td class="num">50 GMAC/s</td><td class="num">283.2 nJ</td><td class="num">18.88 Mbit/s</td><td class="num">10.000 ms</td></tr>');
    expect(count(html, "<li>")).toBe(report.costModel.sources.length);
    expect(html).toContain("Horowitz, &quot;Computing&#x27;s energy problem&quot;, ISSCC 2014");
  });

  it("draws both charts as inline SVG, each with both sweeps as lines, every sweep point, the six operating points labelled, axes and legends", () => {
    expect(count(html, "<svg ")).toBe(2);
    for (const [id, xTitle, xTicks] of [
      ["chart-cloud-fraction", "fraction of inputs sent to the cloud", ["0%", "10%", "20%", "30%", "40%", "50%", "60%", "70%", "80%", "90%", "100%"]],
      ["chart-energy", "edge energy per input (log scale)", ["100nJ", "1µJ", "10µJ", "100µJ", "1mJ", "10mJ"]],
    ] as const) {
      const svg = figure(html, id);
      expect(count(svg, "<svg ")).toBe(1);

      for (const [key, sweep] of [
        ["routed", routedSweep],
        ["entropyExit", entropySweep],
      ] as const) {
        const line = markGroup(svg, `${key}_sweep_line_marks`);
        expect(line, `${id}: ${key} line`).not.toBeNull();
        expect(count(line!, "<path ")).toBe(1);
        // One segment per consecutive pair of points: a moveto and n − 1 linetos.
        const d = /\sd="([^"]+)"/.exec(line!)![1]!;
        expect(count(d, "M")).toBe(1);
        expect(count(d, "L")).toBe(sweep.points.length - 1);
        expect(line).toContain(`aria-label="${key} sweep, ${sweep.condition.replace("<", "&lt;").replace(">", "&gt;")}: ${sweep.points.length} points"`);
        const points = markGroup(svg, `${key}_sweep_points_marks`);
        expect(count(points!, 'aria-roledescription="point"')).toBe(sweep.points.length);
        expect(count(points!, `aria-label="${key} sweep point `)).toBe(sweep.points.length);
        expect(points).toContain(`fill="${SYSTEM_COLORS[key]}"`);
        expect(line).toContain(`stroke="${SYSTEM_COLORS[key]}"`);
      }

      const operating = markGroup(svg, "operating_points_marks")!;
      expect(count(operating, 'aria-roledescription="point"')).toBe(6);
      for (const s of SYSTEMS) {
        expect(operating, s).toContain(`aria-label="${s}: `);
        expect(operating).toContain(`fill="${SYSTEM_COLORS[s]}"`);
      }
      const labels = [...svg.matchAll(/<g class="mark-text role-mark operating_labels_[a-z]+_marks"[^>]*>(.*?)<\/g>/g)].flatMap((m) => [...m[1]!.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((t) => t[1]));
      expect([...labels].sort()).toEqual([...SYSTEMS].sort());

      // Axes with titles and ticks; legends for the sweeps (conditions escaped by vega) and the points.
      expect(svg).toContain(`aria-label="X-axis titled '${xTitle}'`);
      expect(svg).toContain(`aria-label="Y-axis titled 'accuracy on the test split'`);
      const xAxis = svg.slice(svg.indexOf(`aria-label="X-axis titled`));
      const tickLabels = [...xAxis.slice(0, xAxis.indexOf("role-axis-domain")).matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
      expect(tickLabels).toEqual(xTicks);
      expect(svg).toContain("Symbol legend titled 'threshold sweeps' for stroke color with 2 values: routed sweep: max_prob(main) &lt; t, entropyExit sweep: entropy(main) &gt; t");
      expect(svg).toContain("Symbol legend titled 'operating points' for shape and fill color with 6 values: routed, edgeOnly, edgeWithExtension, cloudOnly, entropyExit, oracle");
      expect(svg).toContain(">routed sweep: max_prob(main) &lt; t</text>");
    }
  });

  it("escapes every string of the report: labels from the spec with < & \" stay text", () => {
    expect(html).toContain("Bag &lt;&quot;tote&quot; &amp; clutch&gt;");
    expect(html).not.toContain('Bag <"tote"');
    expect(html).not.toContain("max_prob(main) < t");

    const page = emitEvalReportHtml(hostile(report, `<b data-x="1">&amp;'`));
    expect(page).not.toContain("<b ");
    expect(page).not.toContain("&amp;'");
    // Handlebars escapes in the tables, vega in the charts (a sweep's condition is in each chart's legend and line label).
    expect(count(page, "&lt;b data-x&#x3D;&quot;1&quot;&gt;&amp;amp;&#x27;")).toBeGreaterThan(40);
    expect(count(page, `&lt;b data-x="1"&gt;&amp;amp;'`)).toBe(0);
    expect(count(page, `&lt;b data-x=&quot;1&quot;&gt;&amp;amp;'`)).toBeGreaterThanOrEqual(8);
    expect(page).toContain("<h1>fashion_mnist&lt;b data-x&#x3D;&quot;1&quot;&gt;&amp;amp;&#x27;: evaluation report</h1>");
  });

  it("is self-contained: no script, no external resource", () => {
    expect(html).not.toMatch(/<script|<link|<iframe|<img|\ssrc=|\shref=|@import|url\(/i);
    const urls = [...html.matchAll(/https?:\/\/[^\s"')]+/g)].map((m) => m[0]);
    expect(new Set(urls)).toEqual(new Set(["http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"]));
  });

  it("is deterministic: the same report gives the same bytes, and the synchronous rendering is vega's own toSVG", async () => {
    expect(emitEvalReportHtml(fixture())).toBe(html);
    expect(emitEvalReportHtml(structuredClone(report))).toBe(html);
    for (const kind of ["cloudFraction", "energy"] as const) {
      const view = new vega.View(vega.parse(compileChart(chartSpec(report, kind))), { renderer: "none" });
      const svg = await view.toSVG();
      view.finalize();
      expect(renderChartSvg(chartSpec(report, kind))).toBe(svg);
      expect(html).toContain(svg);
    }
  });

  it("draws reports without calibration, assertions or a routed sweep, a zero energy and an oracle that gains nothing", () => {
    const r = structuredClone(report);
    r.calibration = [];
    r.assertions = [{ text: "p99_latency <= 5 ms", loc: null, metric: "p99_latency", op: "<=", bound: 0.005, value: null, status: "unmeasured" }];
    r.sweeps = r.sweeps.filter((s) => s.system !== "routed");
    r.oracleGainRecovered = null;
    r.baselines.edgeOnly.energyJ = 0;
    const page = emitEvalReportHtml(r);
    expect(page).not.toContain('<section id="calibration">');
    expect(page).toContain('<tr class="unmeasured"><td class="status">unmeasured</td><td><code>p99_latency &lt;&#x3D; 5 ms</code></td><td><code>–</code></td><td class="num">not measured</td></tr>');
    expect(page).toContain("Oracle gain recovered: none to recover");
    const energy = figure(page, "chart-energy");
    expect(energy).toContain(`aria-label="X-axis titled 'edge energy per input' for a linear scale`);
    expect(count(markGroup(energy, "operating_points_marks")!, 'aria-roledescription="point"')).toBe(6);
    expect(markGroup(energy, "routed_sweep_line_marks")).toBeNull();
    expect(count(markGroup(energy, "entropyExit_sweep_points_marks")!, 'aria-roledescription="point"')).toBe(entropySweep.points.length);

    const none = structuredClone(r);
    none.assertions = [];
    none.sweeps = [];
    expect(emitEvalReportHtml(none)).toContain("The spec has no evaluation assertions.");

    const below = structuredClone(report);
    below.oracleGainRecovered = -0.1;
    expect(emitEvalReportHtml(below)).toContain("Oracle gain recovered: none; the routed system is less accurate than the edge alone (-10.0% by (routed − edge only) / (oracle − edge only)); routed ");
  });
});

/**
 * The fixture as an int8 export of the same build would report it: int8 edge files and the
 * comparison with their float32 references. The comparison's figures are made up for the page
 * (plausible, not measured); test/evalPrecision.e2e.test.ts has measured ones.
 */
function withInt8(r: EvalReport): EvalReport {
  const c = structuredClone(r);
  c.costModel.files = c.costModel.files.map((f) => (f.device === "edge" ? { ...f, precision: "int8" } : f));
  c.exitStandalone = c.exitStandalone.map((x) => (x.file.startsWith("edge/") ? { ...x, precision: "int8" } : x));
  const shipped = { accuracy: c.routed.accuracy, fractions: c.routed.fractions, cloudFraction: c.routed.fractions.cloud! };
  c.precision = {
    files: [
      { path: "edge/main.onnx", device: "edge", precision: "int8", reference: "edge/reference/main.onnx" },
      { path: "edge/extension.onnx", device: "edge", precision: "int8", reference: "edge/reference/extension.onnx" },
    ],
    exits: [
      { exit: "main", file: "edge/main.onnx", precision: "int8", reference: "edge/reference/main.onnx", samples: 10000, accuracy: { shipped: 0.9047, reference: 0.9061 }, agreement: 0.9912 },
      { exit: "extension", file: "edge/extension.onnx", precision: "int8", reference: "edge/reference/extension.onnx", samples: 5000, accuracy: { shipped: 0.8624, reference: 0.8652 }, agreement: 0.9874 },
      { exit: "cloud", file: "cloud/model.onnx", precision: "fp32", reference: null, samples: 10000, accuracy: { shipped: 0.9318, reference: 0.9318 }, agreement: 1 },
    ],
    routed: {
      shipped,
      reference: { accuracy: 0.9329, fractions: { main: 0.4995, extension: 0.2962, cloud: 0.2043 }, cloudFraction: 0.2043 },
      sameExit: 0.9871,
      agreement: 0.9902,
      referenceAtCloudFraction: { accuracy: 0.9327, fractions: { main: 0.5004, extension: 0.2965, cloud: shipped.cloudFraction }, cloudFraction: shipped.cloudFraction, condition: "max_prob(main) < t", threshold: 0.713021 },
    },
  };
  return c;
}

/** The text of a section, from its opening tag to its end. */
function section(page: string, id: string): string {
  const start = page.indexOf(`<section id="${id}">`);
  expect(start, `section #${id}`).toBeGreaterThanOrEqual(0);
  return page.slice(start, page.indexOf("</section>", start));
}

const cellsOf = (row: string) => [...row.matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((m) => m[1]);

describe("report.html: precision", () => {
  it("names the precision each exit's file ships at, and says when the edge's MACs are priced at another precision than its files ship at", () => {
    expect(html).not.toContain('<section id="precision">');
    const cost = section(html, "cost-model");
    expect(cost).toContain("<th>precision</th>");
    expect(cost).toContain(
      '<p class="mac-precision">The edge&#x27;s energy per MAC, 0.23 pJ, is that of int8 MACs, the edge&#x27;s precision; but edge/main.onnx ships at fp32, edge/extension.onnx ships at fp32, so their MACs are priced at int8 all the same.</p>',
    );
    expect(cost).toContain('<p class="mac-precision">The cloud&#x27;s energy per MAC, 4.6 pJ, is that of fp32 MACs, the precision the cloud&#x27;s files ship at (cloud/model.onnx).</p>');
  });

  it("shows shipped (int8) against the float32 reference: each exit, and the routed system with the same thresholds and at the same cloud fraction", () => {
    const page = emitEvalReportHtml(withInt8(report));
    const p = section(page, "precision");
    expect(p).toContain("<h2>Shipped (int8) vs float32 reference</h2>");
    expect(p).toContain("edge/reference/main.onnx for edge/main.onnx, int8; edge/reference/extension.onnx for edge/extension.onnx, int8");
    const exitRow = (x: string) => cellsOf(new RegExp(`<tr data-exit="${x}">(.*?)</tr>`).exec(p)![1]!);
    expect(exitRow("main")).toEqual(["main", "<code>edge/main.onnx</code>", "int8", "<code>edge/reference/main.onnx</code>", "10000", "90.47%", "90.61%", "99.12%"]);
    expect(exitRow("cloud")).toEqual(["cloud", "<code>cloud/model.onnx</code>", "fp32", "the shipped file", "10000", "93.18%", "93.18%", "100.00%"]);
    const routed = [...p.matchAll(/<tr class="[a-z]+" data-system="([A-Za-z]+)">(.*?)<\/tr>/g)].map((m) => [m[1], ...cellsOf(m[2]!)]);
    expect(routed).toEqual([
      ["shipped", "shipped (int8)", "93.22%", "50.1%", "29.6%", "20.3%"],
      ["reference", "float32 reference, same thresholds", "93.29%", "50.0%", "29.6%", "20.4%"],
      ["referenceAtCloudFraction", "float32 reference, same cloud fraction", "93.27%", "50.0%", "29.6%", "20.3%"],
    ]);
    expect(p).toContain("with the shipped system&#x27;s thresholds, which are calibrated on the validation outputs of the shipped files, not of the references. The two send 98.71% of the test inputs to the same exit and give the same answer for 99.02%.");
    expect(p).toContain("Same cloud fraction: the float32 reference with max_prob(main) &lt; 0.713021, the threshold that sends as many test inputs to the cloud as the shipped system (20.3%).");
    expect(section(page, "exits")).toContain("<tr><td>main</td><td><code>edge/main.onnx</code></td><td>int8</td>");
    expect(section(page, "cost-model")).toContain("The edge&#x27;s energy per MAC, 0.23 pJ, is that of int8 MACs, the precision the edge&#x27;s files ship at (edge/main.onnx, edge/extension.onnx).");
  });

  it("escapes the comparison's strings and leaves out the same-cloud-fraction row when no threshold sends inputs to the cloud", () => {
    const page = emitEvalReportHtml(hostile(withInt8(report), "<i>&"));
    expect(page).not.toContain("<i>");
    expect(section(page, "precision")).toContain("<code>edge/reference/main.onnx&lt;i&gt;&amp;</code>");
    const none = withInt8(report);
    none.precision!.routed.referenceAtCloudFraction = null;
    const p = section(emitEvalReportHtml(none), "precision");
    expect(p).not.toContain("referenceAtCloudFraction");
    expect(p).not.toContain("Same cloud fraction");
  });
});

describe("weights as compiled and as shipped", () => {
  it("shows each exported file's weight bytes beside the compile-time figure when eval.json has them, and no table when it has none", () => {
    const r = fixture();
    expect(emitEvalReportHtml(r)).not.toContain('class="shipped-weights"');
    r.costModel.files = r.costModel.files.map((f, i) => ({ ...f, weightBytes: { compiled: 100_000 * (i + 1), shipped: 102_400 * (i + 1) } }));
    const page = emitEvalReportHtml(r);
    const table = page.slice(page.indexOf('<table class="shipped-weights">'), page.indexOf("</table>", page.indexOf('<table class="shipped-weights">')));
    const rows = [...table.matchAll(/<tr><td>.*?<\/tr>/g)].map((m) => cellsOf(m[0]));
    expect(rows).toHaveLength(r.costModel.files.length);
    expect(rows[0]).toEqual([r.costModel.files[0]!.path, r.costModel.files[0]!.precision, "97.7 KiB", "100.0 KiB", "+2.4%"]);
  });
});

describe("gap-recovery chart", () => {
  const withGap = (): EvalReport => {
    const r = fixture();
    const cloudFractionOf = (f: { fractions: Record<string, number> }) => f.fractions.cloud ?? 0;
    const operating = { routed: { accuracy: r.routed.accuracy, cloudFraction: cloudFractionOf(r.routed) }, entropyExit: { accuracy: r.baselines.entropyExit.accuracy, cloudFraction: cloudFractionOf(r.baselines.entropyExit) }, oracle: { accuracy: r.baselines.oracle.accuracy, cloudFraction: cloudFractionOf(r.baselines.oracle) } };
    r.gapRecovery = gapRecovery(r.baselines.edgeOnly.accuracy, r.baselines.cloudOnly.accuracy, operating, r.sweeps, [0, 0.05, 0.1, 0.5, 1]);
    return r;
  };

  it("draws one line per curve (routed sweep, entropy exit, random routing) and the operating points, with APGR in the caption", () => {
    const r = withGap();
    expect(r.gapRecovery).not.toBeNull();
    const page = emitEvalReportHtml(r);
    expect(count(page, "<svg ")).toBe(3);
    const svg = figure(page, "chart-gap");
    for (const system of ["routed", "entropyExit", "random"]) {
      const line = markGroup(svg, `${system}_gap_line_marks`);
      expect(line, system).not.toBeNull();
      expect(count(line!, "<path ")).toBe(1);
    }
    expect(count(markGroup(svg, "gap_operating_points_marks")!, "<path ")).toBe(3);
    const random = r.gapRecovery!.curves.find((c) => c.system === "random")!;
    expect(unescapeHtml(svg)).toContain(`random ${(random.apgr * 100).toFixed(2)}%`);
  });

  it("is left out when the report has no gap to recover, or predates gap recovery", () => {
    const none = withGap();
    none.gapRecovery = null;
    expect(count(emitEvalReportHtml(none), "<svg ")).toBe(2);
    expect(count(emitEvalReportHtml(fixture()), "<svg ")).toBe(2);
  });
});
