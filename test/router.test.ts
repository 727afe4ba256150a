/**
 * The rules of the generated edge/router.ts decide exactly as the runtime's interpretation of the
 * manifest does, on random exit probabilities. That the program type-checks for every example is
 * test/router.e2e.test.ts (the TypeScript compiler over it takes tens of seconds).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import ts from "typescript";
import { afterAll, describe, expect, it } from "vitest";
import { buildFiles } from "../src/toolchain/buildFiles.js";
import { loadSpec } from "../src/toolchain/load.js";
import { conditionText, emitRouterProgram } from "../src/codegen/index.js";
import type { ClassSet, Measure } from "../src/ir/index.js";
import { mulberry32 } from "../src/runtime/train/data/rng.js";
import { decide, measureOf, rulesFromManifest, type ExitView, type Rule } from "../src/runtime/infer/index.js";
import { compileText } from "./helpers/compile.js";

const tmp = mkdtempSync(join(tmpdir(), "meanet-router-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const EXAMPLES = ["fashion-mnist", "cifar100-resnet32", "imagenet-resnet18", "imagenet-mobilenetv2"];

/** The generated rules, evaluated without a module loader: the rules array literal with `thresholds` bound. */
function generatedRules(source: string, thresholds: number[]): Rule[] {
  const body = /export const rules: Rule\[\] = (\[[\s\S]*?\n\]);/.exec(source)![1]!;
  const js = ts.transpileModule(`const rules = ${body};`, { compilerOptions: { target: ts.ScriptTarget.ES2022 } }).outputText;
  return new Function("thresholds", `${js}\nreturn rules;`)(thresholds) as Rule[];
}

/** Random softmax outputs per exit (and a random deferral score); the view reads them like the router does. */
function randomView(rng: () => number, exits: Record<string, number>, hard: Record<string, boolean[]>, classOf: (exit: string, i: number) => string): ExitView {
  const probs: Record<string, Float32Array> = {};
  const deferScore = rng();
  for (const [e, k] of Object.entries(exits)) {
    // Logit scales from flat to one-hot, so entropies span the thresholds even over 1,000 classes.
    const scale = Math.exp(rng() * 4.5) - 0.9;
    const logits = Float64Array.from({ length: k }, () => scale * rng());
    logits[Math.floor(rng() * k)]! += scale * rng() * 3;
    const top = Math.max(...logits);
    const z = Float32Array.from(logits, (v) => Math.exp(v - top));
    const s = z.reduce((a, b) => a + b, 0);
    probs[e] = z.map((v) => v / s);
  }
  return {
    // A deferral score stands for the model's output: one random value per view.
    measure: (m: Measure, e: string) => (m === "defer" ? deferScore : measureOf(m, probs[e]!, 0, exits[e]!, hard[e]!)),
    argmaxIn: (e: string, set: ClassSet) => {
      const p = probs[e]!;
      let b = 0;
      for (let i = 1; i < p.length; i++) if (p[i]! > p[b]!) b = i;
      const label = classOf(e, b);
      const isHard = hard[e]![b]!;
      return set.kind === "all" ? true : set.kind === "hard" ? isHard : set.kind === "easy" ? !isHard : set.labels.includes(label);
    },
  };
}

describe("generated edge/router.ts", () => {
  const specs: [string, string][] = [
    ...EXAMPLES.map((ex): [string, string] => [ex, `examples/${ex}.meanet`]),
    ["every condition form", "inline"],
  ];
  const INLINE = `model t
input image: u8[8, 8, 1]
labels ["a", "b", "c", "d", "e", "f"]
block main on edge {
  x = relu(conv2d(image, 4, kernel: 3))
  exit main over all = dense(global_avg_pool(x), 6)
}
block ext on edge {
  exit ext over hard = dense(global_avg_pool(main.x), num_hard)
}
block cloud on cloud {
  exit cloud over all = dense(flatten(image), 6)
}
complexity { hard: lowest_accuracy(main, fraction: 0.5) }
route {
  cloud when (normalized_entropy(main) > 0.6 and not margin(main) >= 0.2) or hard_mass(main) > 0.9
  main when max_prob(main) >= max_prob(ext) and argmax(main) in ["a", "b", "f"]
  ext when argmax(ext) in hard or entropy(ext) < 0.3
  cloud when max_prob(main) < 0.25
  main otherwise
}
`;

  for (const [name, path] of specs) {
    it(`decides as the manifest's rules do: ${name}`, () => {
      const r = path === "inline" ? compileText(INLINE, "inline.meanet") : loadSpec(path);
      expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
      const b = buildFiles(r, join(tmp, "eq"));
      const manifest = { routing: b.irJson.routing.map((x) => ({ target: x.target, when: x.when })) };
      const thresholds: number[] = [];
      const values: number[] = [];
      const collect = (c: unknown): void => {
        const x = c as { kind: string; threshold?: { value: number }; left?: unknown; right?: unknown; operand?: unknown };
        if (!x) return;
        if (x.kind === "threshold") values.push(x.threshold!.value);
        if (x.kind === "and" || x.kind === "or") (collect(x.left), collect(x.right));
        if (x.kind === "not") collect(x.operand);
      };
      for (const rule of b.irJson.routing) collect(rule.when);
      thresholds.push(...values);
      // A calibrated threshold stands at its target's value here.
      const interpreted = rulesFromManifest(manifest, thresholds);
      const generated = generatedRules(emitRouterProgram(b.irJson, path), thresholds);
      expect(generated.map((g) => g.target)).toEqual(interpreted.map((g) => g.target));
      const labels = b.irJson.labels;
      const hardCount = b.irJson.hardClasses.count;
      const exits = Object.fromEntries(b.irJson.exits.map((x) => [x.name, x.classes.kind === "hard" ? hardCount : labels.length]));
      // The first `hardCount` labels stand for the hard classes.
      const hard = Object.fromEntries(b.irJson.exits.map((x) => [x.name, Array.from({ length: exits[x.name]! }, (_, i) => x.classes.kind === "hard" || i < hardCount)]));
      const classOf = (_e: string, i: number) => labels[i]!;
      const rng = mulberry32(41);
      const seen = new Set<string>();
      for (let s = 0; s < 3000; s++) {
        const view = randomView(rng, exits, hard, classOf);
        const want = decide(interpreted, view);
        expect(decide(generated, view), `sample ${s}`).toBe(want);
        seen.add(want!);
      }
      // The random views reach every target the rules name.
      expect([...seen].sort()).toEqual([...new Set(b.irJson.routing.map((x) => x.target))].sort());
    });
  }

  it("prints conditions as the spec writes them", () => {
    const r = compileText(INLINE, "inline.meanet");
    const text = r.ir!.routing.map((x) => (x.when ? conditionText(x.when) : "otherwise"));
    expect(text[0]).toBe("((normalized_entropy(main) > 0.6 and not margin(main) >= 0.2) or hard_mass(main) > 0.9)");
    expect(text[1]).toBe('(max_prob(main) >= max_prob(ext) and argmax(main) in ["a", "b", "f"])');
  });
});
