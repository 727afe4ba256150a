import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Codes, EXIT_ERRORS, EXIT_USAGE, exitCodeOf, MeanetError, UsageError } from "../src/diagnostics/index.js";
import { selectBackend } from "../src/runtime/train/backend.js";
import { loadModel } from "../src/runtime/train/weights.js";

const tmp = mkdtempSync(join(tmpdir(), "meanet-errors-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs f, expects a MeanetError, returns it. */
async function failure(f: () => unknown): Promise<MeanetError> {
  try {
    await f();
  } catch (e) {
    expect(e).toBeInstanceOf(MeanetError);
    return e as MeanetError;
  }
  throw new Error("expected a MeanetError, nothing was thrown");
}

describe("one error type", () => {
  it("renders as `error CODE: message` with its notes, and maps to exit 1", () => {
    const e = new MeanetError(Codes.BuildInvalid, "build/m/ir.json is missing").withNote("nothing written");
    expect(e.render()).toBe("error MN5005: build/m/ir.json is missing\nnothing written");
    expect(exitCodeOf(e)).toBe(EXIT_ERRORS);
  });

  it("a usage error is printed bare and maps to exit 2", () => {
    const e = new UsageError("--limit must be an integer ≥ 1, not `0`");
    expect(e).toBeInstanceOf(MeanetError);
    expect(e.code).toBe(Codes.Usage);
    expect(e.render()).toBe("--limit must be an integer ≥ 1, not `0`");
    expect(exitCodeOf(e)).toBe(EXIT_USAGE);
    const noted = e.withNote("usage: meanet eval DIR/<model>");
    expect(noted).toBeInstanceOf(UsageError);
    expect(noted.render()).toBe("--limit must be an integer ≥ 1, not `0`\nusage: meanet eval DIR/<model>");
    expect(exitCodeOf(noted)).toBe(EXIT_USAGE);
  });

  it("every catalog code is documented in dsl/errors.md", async () => {
    const { readFileSync } = await import("node:fs");
    const doc = readFileSync("dsl/errors.md", "utf8");
    const missing = Object.entries(Codes).filter(([name, code]) => !doc.includes(`| ${code} | \`${name}\` |`));
    expect(missing).toEqual([]);
  });

  it("a tfjs backend that is not installed is MN5010 naming the package", async () => {
    const e = await failure(() => selectBackend("node"));
    expect(e.code).toBe(Codes.BackendUnavailable);
    expect(e.message).toMatch(/@tensorflow\/tfjs-node is not installed/);
  });

  it("checkpoint weights that are missing or of the wrong size name the file", async () => {
    const missing = await failure(() => loadModel(join(tmp, "nowhere")));
    expect(missing.code).toBe(Codes.WeightsMissing);
    expect(missing.message).toContain(join(tmp, "nowhere", "model.json"));
    const dir = join(tmp, "short");
    mkdirSync(dir);
    writeFileSync(join(dir, "model.json"), JSON.stringify({ modelTopology: {}, weightsManifest: [{ weights: [{ name: "w", shape: [2, 3], dtype: "float32" }] }] }));
    writeFileSync(join(dir, "weights.bin"), Buffer.alloc(8));
    const short = await failure(() => loadModel(dir));
    expect(short.code).toBe(Codes.WeightsMismatch);
    expect(short.message).toBe(`${join(dir, "weights.bin")} has 8 bytes but model.json describes 24`);
  });
});
