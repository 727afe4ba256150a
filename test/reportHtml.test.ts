/**
 * report.html of `meanet eval`, from a fixture EvalReport (Fashion-MNIST, exits main / extension /
 * cloud): the page's content and escaping, the two vega charts and their series, determinism, and
 * the page as headless Chromium renders it (screenshot pixels, parsed DOM, console) when the
 * Debian package `chromium` is installed.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { inflateSync } from "node:zlib";
import * as vega from "vega";
import { afterAll, describe, expect, it } from "vitest";
import type { EvalReport } from "../src/format/eval.js";
import { emitEvalReportHtml } from "../src/codegen/reportHtml.js";
import { chartSpec, SYSTEM_COLORS, SYSTEMS } from "../src/codegen/reportHtml/charts.js";
import { compileChart, renderChartSvg } from "../src/codegen/reportHtml/vegaSvg.js";

const FIXTURE = "test/fixtures/eval-report.json";
const fixture = (): EvalReport => JSON.parse(readFileSync(FIXTURE, "utf8")) as EvalReport;
const report = fixture();
const html = emitEvalReportHtml(report);
const routedSweep = report.sweeps.find((s) => s.system === "routed")!;
const entropySweep = report.sweeps.find((s) => s.system === "entropyExit")!;

const CHROMIUM = "chromium";
const HAS_CHROMIUM = spawnSync(CHROMIUM, ["--version"], { encoding: "utf8", timeout: 30_000 }).status === 0;
if (!HAS_CHROMIUM) console.warn(`SKIPPED: the report.html browser tests need headless Chromium (apt-get install -y chromium)`);

const tmp = mkdtempSync(join(tmpdir(), "meanet-report-html-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The figure holding a chart, from `<figure … id=ID>` to its `</figure>`. */
function figure(page: string, id: string): string {
  const start = page.indexOf(`<figure class="chart" id="${id}">`);
  expect(start, `figure #${id}`).toBeGreaterThanOrEqual(0);
  return page.slice(start, page.indexOf("</figure>", start));
}

/** The markup inside the mark group whose class names `cls` (vega's groups of marks hold no nested group). */
function markGroup(svg: string, cls: string): string | null {
  const m = new RegExp(`<g class="mark-[a-z]+ role-mark ${cls}"[^>]*>`).exec(svg);
  if (!m) return null;
  return svg.slice(m.index + m[0].length, svg.indexOf("</g>", m.index));
}

const count = (text: string, needle: string) => text.split(needle).length - 1;

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
  c.exitStandalone = c.exitStandalone.map((e) => ({ ...e, classes: h(e.classes) }));
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
    expect(html).toContain('<tr><td>extension</td><td class="num">29.6%</td><td class="num">90.51%</td><td>hard</td><td class="num">5000</td><td class="num">86.24%</td></tr>');
    expect(count(html.slice(html.indexOf('<section id="per-class">')), '<span class="bar"')).toBe(10);
    expect(html).toContain('<tr><td>Shirt</td><td>hard</td><td class="num">1000</td><td class="num">80.1%</td>');
    expect(html).toContain('<tr><td>edge</td><td>edge_int8_45nm</td><td class="num">0.23 pJ</td><td class="num">50 GMAC/s</td><td class="num">283.2 nJ</td><td class="num">18.88 Mbit/s</td><td class="num">10.000 ms</td></tr>');
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

// ---- the page in a browser ----

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs headless Chromium on a page with a fresh profile and a time limit, in its own process
 * group, and ends that group afterwards: Chromium's helpers can outlive the main process.
 */
function chromium(url: string, extra: string[], timeoutMs = 90_000): Promise<Run> {
  const profile = mkdtempSync(join(tmp, "profile-"));
  const args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", `--user-data-dir=${profile}`, "--enable-logging=stderr", "--v=0", ...extra, url];
  return new Promise((resolve, reject) => {
    const child = spawn(CHROMIUM, args, { detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
    const endGroup = () => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // the group has already ended
      }
    };
    const timer = setTimeout(endGroup, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      endGroup();
      rmSync(profile, { recursive: true, force: true });
      resolve({ code, stdout, stderr });
    });
  });
}

/** Console messages the page logged, as Chromium prints them with --enable-logging=stderr. */
function consoleMessages(stderr: string, url: string): string[] {
  return stderr.split("\n").filter((l) => /:CONSOLE[:(]/.test(l) && l.includes(url));
}

interface Image {
  width: number;
  height: number;
  /** RGB, three bytes per pixel. */
  rgb: Uint8Array;
}

/** PNG decoder for what Chromium writes: 8-bit greyscale, RGB or RGBA, not interlaced. */
function decodePng(data: Buffer): Image {
  expect(data.subarray(0, 8).toString("hex")).toBe("89504e470d0a1a0a");
  let offset = 8;
  let width = 0;
  let height = 0;
  let colorType = 0;
  const idat: Buffer[] = [];
  while (offset < data.length) {
    const length = data.readUInt32BE(offset);
    const type = data.toString("latin1", offset + 4, offset + 8);
    const body = data.subarray(offset + 8, offset + 8 + length);
    if (type === "IHDR") {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      colorType = body[9]!;
      if (body[8] !== 8 || body[12] !== 0 || ![0, 2, 6].includes(colorType)) throw new Error(`unsupported PNG: bit depth ${body[8]}, colour type ${colorType}, interlace ${body[12]}`);
    } else if (type === "IDAT") idat.push(body);
    else if (type === "IEND") break;
    offset += 12 + length;
  }
  const channels = colorType === 6 ? 4 : colorType === 2 ? 3 : 1;
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? pixels[y * stride + i - channels]! : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + i]! : 0;
      const c = i >= channels && y > 0 ? pixels[(y - 1) * stride + i - channels]! : 0;
      let v = line[i]!;
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else if (filter !== 0) throw new Error(`PNG filter ${filter}`);
      pixels[y * stride + i] = v & 0xff;
    }
  }
  const rgb = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) for (let k = 0; k < 3; k++) rgb[p * 3 + k] = pixels[p * channels + (channels === 1 ? 0 : k)]!;
  return { width, height, rgb };
}

const hex = (c: string) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16));

/** Rows of the image holding at least `min` pixels within `tolerance` of a colour. */
function rowsWithColor(img: Image, color: string, tolerance = 24, min = 1): number[] {
  const [r, g, b] = hex(color);
  const rows: number[] = [];
  for (let y = 0; y < img.height; y++) {
    let n = 0;
    for (let x = 0; x < img.width; x++) {
      const o = (y * img.width + x) * 3;
      if (Math.abs(img.rgb[o]! - r!) <= tolerance && Math.abs(img.rgb[o + 1]! - g!) <= tolerance && Math.abs(img.rgb[o + 2]! - b!) <= tolerance) n++;
    }
    if (n >= min) rows.push(y);
  }
  return rows;
}

function pixelsWithColor(img: Image, color: string, y0: number, y1: number, tolerance = 24): number {
  const [r, g, b] = hex(color);
  let n = 0;
  for (let y = y0; y < y1; y++)
    for (let x = 0; x < img.width; x++) {
      const o = (y * img.width + x) * 3;
      if (Math.abs(img.rgb[o]! - r!) <= tolerance && Math.abs(img.rgb[o + 1]! - g!) <= tolerance && Math.abs(img.rgb[o + 2]! - b!) <= tolerance) n++;
    }
  return n;
}

/** Pixels that are neither white nor the page background, in rows y0..y1. */
function inkPixels(img: Image, y0: number, y1: number): number {
  let n = 0;
  for (let y = y0; y < y1; y++)
    for (let x = 0; x < img.width; x++) {
      const o = (y * img.width + x) * 3;
      if (Math.min(img.rgb[o]!, img.rgb[o + 1]!, img.rgb[o + 2]!) < 200) n++;
    }
  return n;
}

/** Runs of consecutive rows, split where more than `gap` rows lack the colour. */
function bands(rows: number[], gap: number): [number, number][] {
  const out: [number, number][] = [];
  for (const y of rows) {
    const last = out[out.length - 1];
    if (last && y - last[1] <= gap) last[1] = y;
    else out.push([y, y]);
  }
  return out;
}

describe("report.html in headless Chromium", () => {
  const page = join(tmp, "report.html");
  writeFileSync(page, html);
  const url = pathToFileURL(page).href;

  it.skipIf(!HAS_CHROMIUM)("the console check sees what a page logs (a probe page with a script and a broken SVG path)", async () => {
    const probe = join(tmp, "probe.html");
    writeFileSync(probe, '<!DOCTYPE html><meta charset="utf-8"><script>console.error("probe-7f3a")</script><svg><path d="M0,0Lxx"/></svg>');
    const probeUrl = pathToFileURL(probe).href;
    const run = await chromium(probeUrl, ["--dump-dom"]);
    expect(run.code).toBe(0);
    const messages = consoleMessages(run.stderr, probeUrl);
    expect(messages.some((m) => m.includes("probe-7f3a"))).toBe(true);
    expect(messages.some((m) => m.includes("<path> attribute d"))).toBe(true);
  });

  it.skipIf(!HAS_CHROMIUM)("renders both charts: series colours and ink in two chart bands of the screenshot", async () => {
    const png = join(tmp, "report.png");
    const run = await chromium(url, [`--screenshot=${png}`, "--window-size=1200,2000", "--hide-scrollbars"]);
    expect(run.code).toBe(0);
    expect(consoleMessages(run.stderr, url)).toEqual([]);
    const img = decodePng(readFileSync(png));
    expect([img.width, img.height]).toEqual([1200, 2000]);

    // The page is not blank: the header and the summary table carry text.
    expect(inkPixels(img, 0, 400)).toBeGreaterThan(5000);

    // The sweep colours appear in exactly two vertical bands, one per chart, in page order.
    const routedBands = bands(rowsWithColor(img, SYSTEM_COLORS.routed, 24, 2), 120).filter(([a, b]) => b - a > 150);
    expect(routedBands.length).toBe(2);
    const [cloudChart, energyChart] = routedBands as [[number, number], [number, number]];
    expect(energyChart[0]).toBeGreaterThan(cloudChart[1]);
    for (const [y0, y1] of [cloudChart, energyChart]) {
      // Lines of twenty-odd points, points and legend symbols leave hundreds of pixels of each sweep colour (400 to 800 here); each baseline symbol a few dozen.
      expect(pixelsWithColor(img, SYSTEM_COLORS.routed, y0, y1 + 1)).toBeGreaterThan(200);
      expect(pixelsWithColor(img, SYSTEM_COLORS.entropyExit, y0, y1 + 1)).toBeGreaterThan(200);
      for (const s of ["edgeOnly", "edgeWithExtension", "cloudOnly", "oracle"] as const) expect(pixelsWithColor(img, SYSTEM_COLORS[s], y0, y1 + 1, 16), s).toBeGreaterThan(15);
      // Axes, grid, ticks, labels and legend text: the band is far from blank.
      expect(inkPixels(img, y0, y1 + 1)).toBeGreaterThan(4000);
    }
  });

  it.skipIf(!HAS_CHROMIUM)("the parsed DOM holds both SVG charts with their series and the escaped labels, and the page logs nothing", async () => {
    const run = await chromium(url, ["--dump-dom"]);
    expect(run.code).toBe(0);
    expect(consoleMessages(run.stderr, url)).toEqual([]);
    const dom = run.stdout;
    expect(count(dom, "<svg ")).toBe(2);
    for (const id of ["chart-cloud-fraction", "chart-energy"]) {
      const fig = dom.slice(dom.indexOf(`id="${id}"`), dom.indexOf("</figure>", dom.indexOf(`id="${id}"`)));
      expect(count(fig, "<svg ")).toBe(1);
      // The browser re-serialises SVG elements with closing tags; count opening ones.
      expect(count(markGroup(fig, "routed_sweep_line_marks")!, "<path ")).toBe(1);
      expect(count(markGroup(fig, "routed_sweep_points_marks")!, "<path ")).toBe(routedSweep.points.length);
      expect(count(markGroup(fig, "entropyExit_sweep_line_marks")!, "<path ")).toBe(1);
      expect(count(markGroup(fig, "entropyExit_sweep_points_marks")!, "<path ")).toBe(entropySweep.points.length);
      expect(count(markGroup(fig, "operating_points_marks")!, "<path ")).toBe(6);
      expect(fig).toContain(">routed sweep: max_prob(main) &lt; t</text>");
    }
    // A label from the spec is text in the DOM, not markup.
    expect(dom).toContain("Bag &lt;\"tote\" &amp; clutch&gt;");
    expect(dom).not.toContain("<tote");
  });
});
