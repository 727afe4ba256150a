/**
 * report.html of `meanet eval` as headless Chromium renders it (screenshot pixels, parsed DOM,
 * console), from the fixture EvalReport of test/reportHtml.test.ts, when the Debian package
 * `chromium` is installed.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { inflateSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import type { EvalReport } from "../src/format/eval.js";
import { emitEvalReportHtml } from "../src/codegen/reportHtml/index.js";
import { SYSTEM_COLORS } from "../src/codegen/reportHtml/charts.js";
import { count, markGroup } from "./helpers/svg.js";

const report = JSON.parse(readFileSync("test/fixtures/eval-report.json", "utf8")) as EvalReport;
const html = emitEvalReportHtml(report);
const routedSweep = report.sweeps.find((s) => s.system === "routed")!;
const entropySweep = report.sweeps.find((s) => s.system === "entropyExit")!;

const CHROMIUM = "chromium";
const HAS_CHROMIUM = spawnSync(CHROMIUM, ["--version"], { encoding: "utf8", timeout: 30_000 }).status === 0;
if (!HAS_CHROMIUM) console.warn(`SKIPPED: the report.html browser tests need headless Chromium (apt-get install -y chromium)`);

const tmp = mkdtempSync(join(tmpdir(), "meanet-report-html-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

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
