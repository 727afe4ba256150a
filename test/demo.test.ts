/**
 * The spec of `npm run demo`, examples/demo.meanet: it compiles without a diagnostic, its cost
 * assertions hold at compile time and its evaluation assertions are left for `meanet eval`; and
 * package.json's demo script trains it on the bundled subset, hands that data to every later
 * step, evaluates (which calibrates the cloud threshold) before the routed run, and lets a failed
 * assertion stop the demo. Whether the trained figures meet the assertions is what the demo itself
 * shows (a training run of about two minutes, left out of the fast tier).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compileText } from "./helpers/compile.js";

const SPEC = "examples/demo.meanet";
const DATA = "data/fashion-mnist";

describe("the demo spec", () => {
  const r = compileText(readFileSync(SPEC, "utf8"), SPEC);

  it("compiles clean: no error and no warning", () => {
    expect(r.diagnostics.map((d) => `${d.severity} ${d.code}: ${d.message}`)).toEqual([]);
    expect(r.ir).toBeTruthy();
  });

  it("holds its cost assertions now and leaves the accuracy and cloud-fraction ones to eval", () => {
    const assertions = r.ir!.assertions;
    expect(assertions.filter((a) => a.when === "compile").map((a) => a.text)).toEqual(["edge.weights <= 256 KiB", "edge.macs <= 2 M"]);
    expect(assertions.filter((a) => a.when === "eval").map((a) => a.metric)).toEqual(["main.accuracy", "extension.accuracy", "cloud.accuracy", "accuracy", "cloud_fraction"]);
  });
});

describe("npm run demo", () => {
  const script = (JSON.parse(readFileSync("package.json", "utf8")) as { scripts: Record<string, string> }).scripts.demo!;
  const steps = script.split(" && ").map((s) => s.split(" "));
  const model = /^model (\w+)$/m.exec(readFileSync(SPEC, "utf8"))![1]!;

  it("inspects and trains the demo spec on the bundled subset, then exports, verifies, evaluates and runs its build", () => {
    expect(steps.map((s) => s.slice(0, 3).join(" "))).toEqual(["node bin/meanet.js inspect", "node bin/meanet.js train", "node bin/meanet.js export", "node bin/meanet.js verify", "node bin/meanet.js eval", "node bin/meanet.js run"]);
    expect(steps[0]![3]).toBe(SPEC);
    expect(steps[1]!.slice(3)).toEqual([SPEC, "-o", "build", "--data", DATA]);
    for (const step of steps.slice(2)) expect(step.slice(3), step[2]).toEqual([`build/${model}`, "--data", DATA]);
  });

  it("lets a failed evaluation assertion stop the demo (no --report-only)", () => {
    expect(script).not.toContain("--report-only");
  });
});
