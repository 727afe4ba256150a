import { describe, expect, it } from "vitest";
import { emitIrJson } from "../src/codegen/index.js";
import { Codes, location } from "../src/diagnostics/index.js";
import { calibrationOf, DEFAULT_CALIBRATION } from "../src/format/quantize.js";
import { compileText, errorCodes, withBlocks } from "./helpers/compile.js";

const BLOCK = `block main on edge {
  exit main over all = dense(gap(relu(conv2d(image, 8))), num_classes)
}`;

/** The spec's ir.json with `section` after the block (line 7 of the spec on). */
function irJson(section: string) {
  const r = compileText(withBlocks(BLOCK, section));
  expect(r.diagnostics).toEqual([]);
  return emitIrJson(r.ir!, r.shapes, r.results);
}

describe("the `quantize` section", () => {
  it("lowers into ir.json as method, percentile, images and the section's place", () => {
    const ir = irJson("quantize {\n  calibration: percentile(99.9)   # clip the rarest outliers\n  images: 256\n}");
    expect(ir.quantize).toEqual({ method: "percentile", percentile: 99.9, images: 256, loc: "spec.meanet:7:1" });
    // The key sits between the assertions and the partition, as IrJson declares it.
    const keys = Object.keys(ir);
    expect(keys.slice(keys.indexOf("assertions"), keys.indexOf("assertions") + 3)).toEqual(["assertions", "quantize", "partition"]);
    expect(calibrationOf(ir)).toEqual({ method: "percentile", percentile: 99.9, images: 256 });
  });

  it("takes the defaults for the keys it leaves out", () => {
    expect(irJson("quantize {}").quantize).toEqual({ ...DEFAULT_CALIBRATION, loc: "spec.meanet:7:1" });
    expect(irJson("quantize { images: 64 }").quantize).toEqual({ method: "minmax", percentile: 99.99, images: 64, loc: "spec.meanet:7:1" });
    expect(irJson("quantize { calibration: percentile }").quantize).toMatchObject({ method: "percentile", percentile: 99.99, images: 512 });
    expect(irJson("quantize { calibration: percentile() }").quantize).toMatchObject({ method: "percentile", percentile: 99.99 });
    expect(irJson("quantize { calibration: percentile(100), images: 1 }").quantize).toMatchObject({ method: "percentile", percentile: 100, images: 1 });
    expect(irJson("quantize { calibration: mse }").quantize).toMatchObject({ method: "mse", percentile: 99.99, images: 512 });
    expect(irJson("quantize { calibration: minmax() }").quantize).toMatchObject({ method: "minmax" });
  });

  it("leaves ir.json without the key when the spec has no section", () => {
    const ir = irJson("");
    expect("quantize" in ir).toBe(false);
    expect(calibrationOf(ir)).toEqual(DEFAULT_CALIBRATION);
  });

  it("is a keyword, as the other sections are: it names no variable", () => {
    const r = compileText(withBlocks("block main on edge {\n  quantize = relu(conv2d(image, 8))\n  exit main over all = dense(gap(quantize), num_classes)\n}"));
    expect(errorCodes(r)[0]).toMatch(/^MN100[23]$/);
  });

  const cases: [string, string, string, string][] = [
    ["an unknown method, with its likeliest spelling", "calibration: percentil(99.9)", Codes.BadQuantize, "did you mean `percentile`?"],
    ["an unknown bare method", "calibration: minmx", Codes.BadQuantize, "did you mean `minmax`?"],
    ["a method in quotes", 'calibration: "mse"', Codes.BadQuantize, "write the method without quotes: `calibration: mse`"],
    ["a method that is not a word", "calibration: 5", Codes.BadQuantize, "e.g. `calibration: percentile(99.99)`"],
    ["a percentile of 0", "calibration: percentile(0)", Codes.BadQuantize, "it is a percentage"],
    ["a percentile above 100", "calibration: percentile(100.5)", Codes.BadQuantize, "it is a percentage"],
    ["a negative percentile", "calibration: percentile(-1)", Codes.BadQuantize, "it is a percentage"],
    ["a percentile with a unit", "calibration: percentile(99 ms)", Codes.WrongUnit, "write a plain number"],
    ["a named percentile", "calibration: percentile(p: 99)", Codes.UnknownArgument, "write the percentile alone, e.g. `percentile(99.99)`"],
    ["two percentiles", "calibration: percentile(99, 98)", Codes.UnknownArgument, ""],
    ["an argument to minmax", "calibration: minmax(99.9)", Codes.UnknownArgument, "to clip outliers, write `calibration: percentile(99.99)`"],
    ["an argument to mse", "calibration: mse(bits: 8)", Codes.UnknownArgument, "write `calibration: mse`"],
    ["no images", "images: 0", Codes.BadQuantize, "e.g. `images: 256`"],
    ["a fraction of an image", "images: 2.5", Codes.BadQuantize, "e.g. `images: 256`"],
    ["a negative number of images", "images: -4", Codes.BadQuantize, "e.g. `images: 256`"],
    ["images that are not a number", "images: all", Codes.BadValue, ""],
    ["an unknown key", "image: 256", Codes.UnknownProperty, "did you mean `images`?"],
    ["a key given twice", "images: 1, images: 2", Codes.DuplicateName, ""],
  ];
  for (const [what, body, code, hint] of cases) {
    it(`reports ${what} as ${code}`, () => {
      const r = compileText(withBlocks(BLOCK, `quantize {\n  ${body}\n}`));
      expect(r.diagnostics.map((d) => d.code)).toEqual([code]);
      const d = r.diagnostics[0]!;
      // Every one points into the section's line, never at the section as a whole.
      expect(location(d.span).line).toBe(8);
      if (hint) expect(d.hint).toContain(hint);
    });
  }

  it("says which percentile it got and points at it", () => {
    const r = compileText(withBlocks(BLOCK, "quantize {\n  calibration: percentile(250)\n}"));
    const d = r.diagnostics[0]!;
    expect(d.message).toBe("the percentile must lie in (0, 100], got 250");
    expect(d.span!.source.text.slice(d.span!.start, d.span!.end)).toBe("250");
  });

  it("reports a second section as MN2029 at the second, pointing back at the first", () => {
    const r = compileText(withBlocks(BLOCK, "quantize { calibration: mse }\nquantize { images: 8 }"));
    expect(r.diagnostics.map((d) => d.code)).toEqual([Codes.DuplicateDeclaration]);
    expect(location(r.diagnostics[0]!.span).line).toBe(8);
    expect(location(r.diagnostics[0]!.related![0]!.span).line).toBe(7);
  });
});
