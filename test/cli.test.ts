import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../src/cli/main.js";
import type { Io } from "../src/cli/io.js";
import { UsageError } from "../src/diagnostics/index.js";
import { integerFlag } from "../src/runtime/argv.js";
import { deferMacs, deferWeightCount } from "../src/format/defer.js";

function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const io: Io = { out: (t) => (out += t + "\n"), err: (t) => (err += t + "\n"), isTty: false };
  return main(argv, io).then((code) => ({ code, out, err }));
}

const tmp = mkdtempSync(join(tmpdir(), "meanet-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function specFile(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

const broken = `model m
input image: f32[8, 8, 3]
labels 3
block main on edge {
  a = conv2d(image, 4, stride: 2)
  b = conv2d(image, 4)
  exit main over all = dense(gap(concat(a, b)), num_classes)
}
`;

describe("meanet check", () => {
  it("exit 0 on a clean spec", async () => {
    const r = await run(["check", "examples/fashion-mnist.meanet"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("ok");
  });

  it("exit 1 with file:line:col, code, frame and both shapes", async () => {
    const f = specFile("broken.meanet", broken);
    const r = await run(["check", f]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/broken\.meanet:7:34: error MN3001: concat/);
    expect(r.err).toContain("`a` (4×4×4, line 5) and `b` (8×8×4, line 6)");
    expect(r.err).toMatch(/\^{12}/);
  });

  it("--format json gives the documented fields", async () => {
    const f = specFile("broken2.meanet", broken);
    const r = await run(["check", f, "--format", "json"]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out) as { diagnostics: Record<string, unknown>[] };
    expect(j.diagnostics).toHaveLength(1);
    expect(Object.keys(j.diagnostics[0]!).sort()).toEqual(["code", "column", "file", "hint", "line", "message", "severity"]);
    expect(j.diagnostics[0]).toMatchObject({ code: "MN3001", severity: "error", line: 7, column: 34 });
  });

  it("exit 2 on usage errors", async () => {
    expect((await run(["check"])).code).toBe(2);
    expect((await run(["check", "a", "b"])).code).toBe(2);
    expect((await run(["check", "x.meanet", "--bogus"])).code).toBe(2);
    expect((await run(["check", "x.meanet", "--format", "xml"])).code).toBe(2);
    expect((await run(["frobnicate"])).code).toBe(2);
  });

  it("export's calibration flags: a bad method, percentile or image count is a usage error naming the flag, before the build is read", async () => {
    const dir = join(tmp, "no-such-build");
    const cases: [string[], RegExp][] = [
      [["--calibration", "percentil"], /--calibration: unknown calibration method `percentil`/],
      [["--calibration", "percentile(150)"], /--calibration: the percentile must be a number in \(0, 100\], not `150`/],
      [["--calibration", "percentile(0)"], /not `0`/],
      [["--calibration", "minmax(3)"], /`minmax` takes no argument/],
      [["--calibration-images", "0"], /--calibration-images/],
      [["--calibration-images", "many"], /--calibration-images/],
    ];
    for (const [flags, message] of cases) {
      const r = await run(["export", dir, ...flags]);
      expect(r.code, flags.join(" ")).toBe(2);
      expect(r.err, flags.join(" ")).toMatch(message);
    }
    // Valid flags get as far as the build, which is not there.
    const ok = await run(["export", dir, "--calibration", "percentile(99.9)", "--calibration-images", "64"]);
    expect(ok.code).toBe(1);
    expect(ok.err).toMatch(/MN5005|no-such-build/);
  });

  it("a directory where a spec file is expected says so and names the spec files in it", async () => {
    const specs = join(tmp, "specs");
    mkdirSync(specs);
    for (const argv of [["check", "examples"], ["compile", "examples", "-o", join(tmp, "d")], ["build", "examples", "-o", join(tmp, "d")], ["inspect", "examples"]]) {
      const r = await run(argv);
      expect(r.code, argv.join(" ")).toBe(1);
      expect(r.err, argv.join(" ")).toContain("error MN5001: `examples` is a directory, not a spec file");
      expect(r.err, argv.join(" ")).toContain("hint: pass one of the spec files in it: examples/cifar100-resnet32.meanet, examples/demo.meanet, examples/fashion-mnist.meanet,");
      expect(r.err, argv.join(" ")).not.toContain("check the path");
    }
    expect((await run(["check", specs])).err).toContain("hint: it holds no .meanet file; pass the path of a spec file");
    specFile("specs/only.meanet", broken);
    expect((await run(["check", specs])).err).toContain(`hint: did you mean ${join(specs, "only.meanet")}?`);
    expect(existsSync(join(tmp, "d"))).toBe(false);
  });

  it("a missing file is an error with a code, not a crash", async () => {
    const r = await run(["check", join(tmp, "nope.meanet")]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("MN5001");
  });
});

describe("meanet inspect", () => {
  it("--json has the documented shape", async () => {
    const r = await run(["inspect", "examples/fashion-mnist.meanet", "--json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.model).toBe("fashion_mnist");
    for (const b of j.blocks) expect(Object.keys(b)).toEqual(expect.arrayContaining(["name", "device", "params", "macs", "weightBytes", "peakActivationBytes"]));
    // The total is the blocks' and the learned deferral model's (the example's cloud rule reads `defer`).
    expect(j.deferral).toEqual({ exits: ["main", "extension"], params: deferWeightCount([10, 5], 16), macs: deferMacs([10, 5], 16), weightBytes: 4 * deferWeightCount([10, 5], 16) });
    expect(j.total.params).toBe(j.blocks.reduce((s: number, b: { params: number }) => s + b.params, j.deferral.params));
    expect(j.total.macs).toBe(j.blocks.reduce((s: number, b: { macs: number }) => s + b.macs, j.deferral.macs));
    for (const route of j.routes) expect(Object.keys(route)).toEqual(expect.arrayContaining(["exit", "edgeMacs", "cloudMacs", "bytesSent", "energyJ", "latencyS"]));
    expect(j.routes.map((x: { exit: string }) => x.exit)).toEqual(["main", "extension", "cloud"]);
  });

  it("prints a table per block and per device", async () => {
    const r = await run(["inspect", "examples/fashion-mnist.meanet"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Blocks$/m);
    expect(r.out).toMatch(/^Devices$/m);
    expect(r.out).toMatch(/^main\s+edge\s+54,778\s+1,950,592/m);
  });

  it("prints the tables and the JSON beside budget errors (exit 1), and nothing on stdout beside other errors", async () => {
    const budget = await run(["inspect", "test/golden/041-weight-budget.meanet"]);
    expect(budget.code).toBe(1);
    expect(budget.err).toContain("error MN4001");
    expect(budget.out).toMatch(/^main\s+edge\s+125,642\s+238,336\s+122\.9 KiB/m);
    const json = await run(["inspect", "test/golden/041-weight-budget.meanet", "--json"]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out).total.params).toBe(125642);
    const assertion = await run(["inspect", "test/golden/044-assertion-failed.meanet"]);
    expect([assertion.code, /error MN4004/.test(assertion.err), /^Blocks$/m.test(assertion.out)]).toEqual([1, true, true]);
    const shape = await run(["inspect", specFile("broken-inspect.meanet", broken), "--json"]);
    expect([shape.code, shape.out]).toEqual([1, ""]);
  });

  it("--layers lists one row per layer (name, op, output shape, params, MACs, device, file:line), in the text and in --json", async () => {
    const text = await run(["inspect", "examples/fashion-mnist.meanet", "--layers"]);
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/^Blocks$/m);
    const table = text.out.slice(text.out.indexOf("\nLayers\n"));
    expect(table).toMatch(/^layer\s+op\s+output\s+params\s+MACs\s+device\s+source$/m);
    expect(table).toMatch(/^main\/conv2d_2\s+conv2d\s+14×14×32\s+4,608\s+903,168\s+edge\s+examples\/fashion-mnist\.meanet:24$/m);
    const json = JSON.parse((await run(["inspect", "examples/fashion-mnist.meanet", "--layers", "--json"])).out);
    expect((await run(["compile", "examples/fashion-mnist.meanet", "-o", join(tmp, "layers")])).code).toBe(0);
    const ir = JSON.parse(readFileSync(join(tmp, "layers", "fashion_mnist", "ir.json"), "utf8"));
    expect(json.layers).toHaveLength(ir.nodes.length);
    expect(table.trim().split("\n")).toHaveLength(ir.nodes.length + 3);
    expect(json.layers[4]).toEqual({ name: "main/conv2d_2", op: "conv2d", shape: [14, 14, 32], params: 4608, macs: 903168, device: "edge", source: "examples/fashion-mnist.meanet:24" });
    expect(json.layers.reduce((t: number, l: { macs: number }) => t + l.macs, json.deferral.macs)).toBe(json.total.macs);
    // Without the flag the JSON keeps its documented keys.
    expect(JSON.parse((await run(["inspect", "examples/fashion-mnist.meanet", "--json"])).out)).not.toHaveProperty("layers");
    // A build directory gives the same rows, read from its ir.json.
    expect((await run(["export", join(tmp, "layers", "fashion_mnist"), "--random-weights"])).code).toBe(0);
    const built = JSON.parse((await run(["inspect", join(tmp, "layers", "fashion_mnist"), "--layers", "--json"])).out);
    expect(built.layers).toEqual(json.layers);
  });
});

describe("meanet compile", () => {
  it("writes ir.json, report.md and manifest.json, byte-identical across runs", async () => {
    const a = join(tmp, "a");
    const b = join(tmp, "b");
    expect((await run(["compile", "examples/fashion-mnist.meanet", "-o", a])).code).toBe(0);
    expect((await run(["compile", "examples/fashion-mnist.meanet", "-o", b])).code).toBe(0);
    const files = (readdirSync(join(a, "fashion_mnist"), { recursive: true }) as string[]).filter((f) => f.includes(".")).sort();
    expect(files).toEqual(["cloud/kserve.yaml", "cloud/triton/fashion_mnist/config.pbtxt", "edge/package.json", "edge/router.ts", "ir.json", "manifest.json", "report.md", "train/package.json", "train/train.ts"]);
    for (const f of files) expect(readFileSync(join(a, "fashion_mnist", f))).toEqual(readFileSync(join(b, "fashion_mnist", f)));
    const manifest = JSON.parse(readFileSync(join(a, "fashion_mnist", "manifest.json"), "utf8"));
    expect(manifest.artifacts.map((x: { path: string }) => x.path)).toEqual(["cloud/kserve.yaml", "cloud/triton/fashion_mnist/config.pbtxt", "edge/package.json", "edge/router.ts", "ir.json", "report.md", "train/package.json", "train/train.ts"]);
    const ir = JSON.parse(readFileSync(join(a, "fashion_mnist", "ir.json"), "utf8"));
    expect(ir.nodes.length).toBeGreaterThan(20);
    expect(ir.tensors.every((t: { shape: unknown }) => Array.isArray(t.shape))).toBe(true);
  });

  it("writes nothing when the spec has errors", async () => {
    const f = specFile("broken3.meanet", broken);
    const out = join(tmp, "c");
    const r = await run(["compile", f, "-o", out]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("nothing written");
    expect(existsSync(out)).toBe(false);
  });

  it("needs -o", async () => {
    expect((await run(["compile", "examples/fashion-mnist.meanet"])).code).toBe(2);
  });
});

describe("meanet train", () => {
  it("rejects bad flag values with exit 2 before touching data", async () => {
    for (const flags of [["--epochs", "0"], ["--backend", "gpu"], ["--dataset", "imagenet"], ["--seed", "-1"]]) {
      const r = await run(["train", "examples/fashion-mnist.meanet", "-o", join(tmp, "t"), ...flags]);
      expect(r.code, flags.join(" ")).toBe(2);
      expect(r.err).toContain("usage: meanet train");
    }
    expect(existsSync(join(tmp, "t"))).toBe(false);
  });

  it("a missing data directory is MN5004 naming it", async () => {
    const r = await run(["train", "examples/fashion-mnist.meanet", "-o", join(tmp, "t2"), "--data", join(tmp, "nodata")]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("MN5004");
    expect(r.err).toContain("nodata");
  });
});

describe("messages", () => {
  it("a negative number where a flag expects another value says what it expects, not that the argument is ambiguous", async () => {
    const cases: [string[], string][] = [
      [["run", join(tmp, "b"), "--limit", "-5"], "--limit must be an integer ≥ 1, not `-5`"],
      [["serve", join(tmp, "b"), "--port", "-1"], "--port must be an integer from 0 to 65535, not `-1`"],
      [["verify", join(tmp, "b"), "--tolerance", "-0.5"], "--tolerance must be a positive number, not `-0.5`"],
      [["export", join(tmp, "b"), "--random-weights", "--seed", "-3"], "--seed must be an integer from 0 to 4294967295, not `-3`"],
    ];
    for (const [argv, message] of cases) {
      const r = await run(argv);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.err).toContain(message);
      expect(r.err).not.toContain("ambiguous");
    }
  });

  it("export of a file rather than a build directory says so", async () => {
    const file = specFile("not-a-build.json", "{}");
    const r = await run(["export", file]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`error MN5005: ${file} is a file, not a build directory`);
    expect(r.err).not.toContain("not found");
  });

  it("the -o folder given where its build DIR/<model> is expected names the build (or the builds) inside it", async () => {
    const one = join(tmp, "out-one");
    expect((await run(["compile", "examples/fashion-mnist.meanet", "-o", one])).code).toBe(0);
    for (const name of ["export", "verify", "eval", "run", "serve", "inspect"]) {
      const r = await run([name, one]);
      expect(r.code, name).toBe(1);
      expect(r.err, name).toContain(`error MN5005: ${join(one, "ir.json")} is missing; did you mean ${join(one, "fashion_mnist")}?`);
    }
    const two = join(tmp, "out-two");
    for (const model of ["a", "b"]) {
      const f = specFile(`${model}.meanet`, readFileSync("examples/fashion-mnist.meanet", "utf8").replace("model fashion_mnist", `model ${model}`));
      expect((await run(["compile", f, "-o", two])).code).toBe(0);
    }
    mkdirSync(join(two, "notes"));
    const r = await run(["export", two]);
    expect(r.err).toContain(`${two} holds 2 builds; did you mean one of ${join(two, "a")}, ${join(two, "b")}?`);
    // A folder with no build inside keeps the general question.
    expect((await run(["export", join(two, "notes")])).err).toContain(`is ${join(two, "notes")} a build directory written by`);
  });

  it("a manifest that is not valid JSON is reported on one line", async () => {
    expect((await run(["compile", "examples/fashion-mnist.meanet", "-o", join(tmp, "badjson")])).code).toBe(0);
    const dir = join(tmp, "badjson", "fashion_mnist");
    writeFileSync(join(dir, "manifest.json"), '{\n  "format": "meanet-manifest",\n  "version": 1,\n  oops\n}\n');
    const r = await run(["export", dir]);
    expect(r.code).toBe(1);
    const lines = r.err.trim().split("\n");
    expect(lines[0]).toMatch(/^error MN5005: \S+manifest\.json is not valid JSON \(.+\); run `meanet compile` again$/);
    expect(lines.slice(1)).toEqual(["nothing written"]);
  });
});

describe("the command preamble", () => {
  const COMMANDS = ["check", "inspect", "compile", "train", "export", "verify", "serve", "run", "eval", "build"];

  it("every command prints its usage for --help and -h (exit 0), and exits 2 with it for a missing or an extra file argument or an unknown flag", async () => {
    for (const name of COMMANDS) {
      const usage = new RegExp(`^usage: meanet ${name} `);
      for (const flag of ["--help", "-h"]) {
        const help = await run([name, flag]);
        expect(help.code, `${name} ${flag}`).toBe(0);
        expect(help.out, `${name} ${flag}`).toMatch(usage);
      }
      for (const argv of [[name], [name, "a", "b"], [name, "a", "--bogus"]]) {
        const r = await run(argv);
        expect(r.code, argv.join(" ")).toBe(2);
        expect(r.err, argv.join(" ")).toMatch(new RegExp(`usage: meanet ${name} `));
        expect(r.out).toBe("");
      }
    }
  });

  it("predict takes DIR and one or more images: --help exits 0, no image or an unknown flag (run's --data included) exits 2 with its usage", async () => {
    for (const flag of ["--help", "-h"]) {
      const help = await run(["predict", flag]);
      expect(help.code).toBe(0);
      expect(help.out).toMatch(/^usage: meanet predict DIR\/<model> IMAGE… /);
    }
    for (const argv of [["predict"], ["predict", "a"], ["predict", "a", "b.png", "--bogus"], ["predict", "a", "b.png", "--data", "d"], ["predict", "a", "b.png", "--batch", "0"]]) {
      const r = await run(argv);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.err, argv.join(" ")).toMatch(/usage: meanet predict /);
      expect(r.out).toBe("");
    }
  });

  it("an unknown flag or a value parseArgs refuses is a usage error in meanet's words, naming the flag and listing the command's flags", async () => {
    const cases: [string[], string][] = [
      [["check", "x.meanet", "--bogus"], "unknown flag `--bogus`; the flags are --format, --help (-h)"],
      [["run", "b", "--limt", "5"], "unknown flag `--limt` (did you mean `--limit`?); the flags are "],
      [["inspect", "x.meanet", "-q"], "unknown flag `-q`; the flags are --json"],
      [["check", "x.meanet", "--format"], "--format needs a value"],
      [["export", "b", "--random-weights=yes"], "--random-weights takes no value, not `yes`"],
      [["train", "x.meanet", "-o", "--data"], "-o needs a value, not the flag `--data` (write --out=--data if that is the value)"],
    ];
    for (const [argv, message] of cases) {
      const r = await run(argv);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.err, argv.join(" ")).toContain(message);
      expect(r.err, argv.join(" ")).toContain(`usage: meanet ${argv[0]} `);
      expect(r.err, argv.join(" ")).not.toMatch(/Unknown option|positional argument|<value>/);
    }
    const train = (await run(["train", "x.meanet", "-o", "t", "--bogus"])).err;
    for (const flag of ["--out (-o)", "--data", "--epochs", "--limit-train", "--seed", "--backend", "--help (-h)"]) expect(train).toContain(flag);
  });

  it("an integer flag says which integers it takes", () => {
    expect(integerFlag("limit", undefined, { min: 1 })).toBeUndefined();
    expect(integerFlag("limit", "12", { min: 1 })).toBe(12);
    expect(integerFlag("port", "0", { min: 0, max: 65535 })).toBe(0);
    for (const [text, range, message] of [
      ["0", { min: 1 }, "--limit must be an integer ≥ 1, not `0`"],
      ["x", { min: 1 }, "--limit must be an integer ≥ 1, not `x`"],
      ["1.5", { min: 1 }, "--limit must be an integer ≥ 1, not `1.5`"],
      ["1e3", { min: 1 }, "--limit must be an integer ≥ 1, not `1e3`"],
      ["", { min: 0 }, "--limit must be an integer ≥ 0, not ``"],
      ["-1", { min: 0, max: 65535 }, "--limit must be an integer from 0 to 65535, not `-1`"],
      ["65536", { min: 0, max: 65535 }, "--limit must be an integer from 0 to 65535, not `65536`"],
      ["99999999999999999999", { min: 0 }, "--limit must be an integer ≥ 0, not `99999999999999999999`"],
    ] as const) {
      expect(() => integerFlag("limit", text, range)).toThrow(new UsageError(message));
    }
  });
});

