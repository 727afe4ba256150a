/**
 * Golden baselines of what `meanet compile` writes for every example in examples/: ir.json,
 * report.md, manifest.json, the training program (train/), the router program (edge/), Triton's
 * config.pbtxt and KServe's InferenceService (cloud/), each compared with its committed copy in
 * test/golden/generated/<example>/compile/. The command runs in process, from src/.
 *
 * After an intended change of generated code:
 *
 *   UPDATE_GOLDEN=1 npx vitest run test/generated.test.ts
 *
 * rewrites the baselines; review them with `git diff test/golden/generated`. The files of
 * `meanet export --random-weights --seed 7` are compared by test/export.e2e.test.ts.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../src/cli/main.js";
import type { Io } from "../src/cli/io.js";
import { expectGoldenSet, filesUnder, GENERATED_DIR } from "./helpers/golden.js";

const tmp = mkdtempSync(join(tmpdir(), "meanet-generated-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const EXAMPLES = readdirSync("examples")
  .filter((f) => f.endsWith(".meanet"))
  .map((f) => f.replace(/\.meanet$/, ""))
  .sort();

describe("generated files of `meanet compile`", () => {
  for (const example of EXAMPLES) {
    it(`examples/${example}.meanet`, async () => {
      const out = join(tmp, example);
      let err = "";
      let said = "";
      const io: Io = { out: (t) => (said += t + "\n"), err: (t) => (err += t + "\n"), isTty: false };
      expect(await main(["compile", `examples/${example}.meanet`, "-o", out], io), err).toBe(0);
      const model = /wrote (\S+)\/\{/.exec(said)![1]!;
      const files = new Map(filesUnder(model).map((f) => [f, readFileSync(join(model, f), "utf8")]));
      expect([...files.keys()]).toContain("ir.json");
      expectGoldenSet(`${example}/compile`, files);
    });
  }

  it("covers every example, and every example with baselines still exists", () => {
    expect(EXAMPLES.length).toBeGreaterThanOrEqual(4);
    expect(readdirSync(GENERATED_DIR).sort()).toEqual(EXAMPLES);
  });
});
