/**
 * PNG and JPEG files as model inputs. Decoding is pure JavaScript (pngjs, jpeg-js): nothing to
 * compile, nothing downloaded at install or run time. Every image becomes the spec's input, uint8
 * H×W×C, by one rule (dsl/reference.md, "Image folders"):
 *
 * - channels: C = 3 takes R, G, B; C = 1 takes the luma (R·19595 + G·38470 + B·7471 + 32768) >> 16,
 *   ITU-R BT.601 weights in 16-bit fixed point (a gray image keeps its values exactly); alpha is
 *   ignored (pixels are taken as stored, not composited);
 * - size: an image already H×W is taken as it is; otherwise it is scaled by s = max(H/h, W/w), so
 *   that it covers H×W with its shorter side (relative to the target) fitting exactly, and the
 *   central H×W window is kept; the output pixel (x, y) samples the source around
 *   ((x + 0.5 − W/2)/s + w/2 − 0.5, (y + 0.5 − H/2)/s + h/2 − 0.5) with a triangle (bilinear)
 *   filter widened by 1/s when shrinking (antialiased), edges clamped, rounded to the nearest
 *   integer.
 */
import jpeg from "jpeg-js";
import { PNG } from "pngjs";
import { Codes } from "../../../diagnostics/index.js";
import { corrupt, dataError } from "./errors.js";
import { readFileBytes } from "./files.js";

/** A decoded image: 8-bit RGBA, row-major. */
export interface DecodedImage {
  width: number;
  height: number;
  rgba: Uint8Array;
}

export type ImageFormat = "png" | "jpeg";

/** File name endings taken as images (case-insensitive). */
export const IMAGE_EXTENSIONS = [".png", ".jpg", ".jpeg"] as const;

export function hasImageExtension(name: string): boolean {
  const lower = name.toLowerCase();
  return IMAGE_EXTENSIONS.some((e) => lower.endsWith(e));
}

/** The format the bytes hold, by their signature (not the file name). */
export function imageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return "png";
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "jpeg";
  return undefined;
}

/** Decodes PNG or JPEG bytes; anything else, or a file that fails to decode, is MN5003 naming `file`. */
export function decodeImage(bytes: Uint8Array, file: string): DecodedImage {
  const format = imageFormat(bytes);
  if (!format) throw corrupt(file, "not a PNG or JPEG image (its first bytes are neither signature)");
  let out: { width: number; height: number; data: Uint8Array };
  try {
    out = format === "png" ? PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)) : jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
  } catch (e) {
    throw corrupt(file, `cannot decode this ${format === "png" ? "PNG" : "JPEG"} image: ${(e as Error).message}`);
  }
  if (!(out.width > 0 && out.height > 0) || out.data.length !== out.width * out.height * 4) {
    throw corrupt(file, `the ${format === "png" ? "PNG" : "JPEG"} decoder gave ${out.width}×${out.height} pixels and ${out.data.length} bytes`);
  }
  return { width: out.width, height: out.height, rgba: out.data };
}

/** Reads and decodes an image file; a missing file is MN5004, an unreadable one MN5001, a bad one MN5003. */
export function readImageFile(file: string): DecodedImage {
  return decodeImage(readFileBytes(file), file);
}

/** The channel counts an image can be converted to. */
export function checkImageChannels(shape: readonly number[], where: string): void {
  const c = shape[2];
  if (shape.length !== 3 || (c !== 1 && c !== 3)) {
    throw dataError(Codes.DataCorrupt, where, `images feed inputs of shape H×W×1 or H×W×3; this spec's input is ${shape.join("×")}`);
  }
}

/** One channel plane per output channel, as floats: luma for C = 1, R, G, B for C = 3. */
function planes(img: DecodedImage, channels: number): Uint8Array[] {
  const n = img.width * img.height;
  const { rgba } = img;
  if (channels === 1) {
    const y = new Uint8Array(n);
    for (let i = 0; i < n; i++) y[i] = (rgba[4 * i]! * 19595 + rgba[4 * i + 1]! * 38470 + rgba[4 * i + 2]! * 7471 + 32768) >> 16;
    return [y];
  }
  return [0, 1, 2].map((c) => {
    const p = new Uint8Array(n);
    for (let i = 0; i < n; i++) p[i] = rgba[4 * i + c]!;
    return p;
  });
}

/** For each output position along one axis, the source indices and normalised weights sampled there. */
function axisWeights(src: number, dst: number, scale: number): { first: Int32Array; weights: Float64Array[] } {
  const support = Math.max(1, 1 / scale);
  const first = new Int32Array(dst);
  const weights: Float64Array[] = [];
  for (let o = 0; o < dst; o++) {
    const center = (o + 0.5 - dst / 2) / scale + src / 2 - 0.5;
    const lo = Math.ceil(center - support);
    const hi = Math.floor(center + support);
    const w = new Float64Array(hi - lo + 1);
    let sum = 0;
    for (let k = lo; k <= hi; k++) {
      const t = 1 - Math.abs(k - center) / support;
      w[k - lo] = t > 0 ? t : 0;
      sum += w[k - lo]!;
    }
    for (let k = 0; k < w.length; k++) w[k]! /= sum || 1;
    first[o] = lo;
    weights.push(w);
  }
  return { first, weights };
}

const clampIndex = (i: number, n: number) => (i < 0 ? 0 : i >= n ? n - 1 : i);

/** Resamples one plane to H×W by the rule of this file's header (separable: rows, then columns). */
function resample(plane: Uint8Array, w: number, h: number, W: number, H: number, scale: number): Float64Array {
  const xs = axisWeights(w, W, scale);
  const ys = axisWeights(h, H, scale);
  const rows = new Float64Array(h * W);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < W; x++) {
      const wx = xs.weights[x]!;
      let acc = 0;
      for (let k = 0; k < wx.length; k++) acc += wx[k]! * plane[y * w + clampIndex(xs.first[x]! + k, w)]!;
      rows[y * W + x] = acc;
    }
  }
  const out = new Float64Array(H * W);
  for (let y = 0; y < H; y++) {
    const wy = ys.weights[y]!;
    for (let x = 0; x < W; x++) {
      let acc = 0;
      for (let k = 0; k < wy.length; k++) acc += wy[k]! * rows[clampIndex(ys.first[y]! + k, h) * W + x]!;
      out[y * W + x] = acc;
    }
  }
  return out;
}

/** The image as the spec's input: uint8 H×W×C (C of 1 or 3), by the rule of this file's header. */
export function toInputPixels(img: DecodedImage, shape: readonly number[], out: Uint8Array = new Uint8Array(shape[0]! * shape[1]! * shape[2]!)): Uint8Array {
  const [H, W, C] = shape as [number, number, number];
  const ps = planes(img, C);
  const same = img.width === W && img.height === H;
  const scale = Math.max(H / img.height, W / img.width);
  ps.forEach((p, c) => {
    if (same) {
      for (let i = 0; i < H * W; i++) out[i * C + c] = p[i]!;
      return;
    }
    const r = resample(p, img.width, img.height, W, H, scale);
    for (let i = 0; i < H * W; i++) out[i * C + c] = Math.min(255, Math.max(0, Math.round(r[i]!)));
  });
  return out;
}
