import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { summarize } from "../src/codegen/index.js";
import { location } from "../src/diagnostics/index.js";
import { compileText, errorCodes, withBlocks } from "./helpers/compile.js";
import { deferMacs, deferWeightCount } from "../src/format/defer.js";

describe("lowering", () => {
  it("expands defs with defaults, conditionals on shapes, and repetition", () => {
    const r = compileText(
      withBlocks(`
def unit(x, c, stride = 1) {
  y = conv2d(x, c, kernel: 3, stride: stride)
  if channels(x) != c or stride != 1 { x = conv2d(x, c, kernel: 1, stride: stride) }
  return add(x, y)
}
block main on edge {
  a = unit(image, 8) x 3
  b = unit(a, 16, stride: 2)
  exit main over all = dense(gap(b), num_classes)
}`),
    );
    expect(r.diagnostics).toEqual([]);
    const ops = r.ir!.nodes.map((n) => n.op);
    // First unit projects (3 → 8 channels); the next two reuse the identity; the last projects again.
    expect(ops.filter((o) => o === "conv2d")).toHaveLength(1 + 1 + 1 + 1 + 2);
    expect(ops.filter((o) => o === "add")).toHaveLength(4);
    expect(r.shapes[r.ir!.exits[0]!.tensor]).toEqual([10]);
  });

  it("repeats a parenthesised count computed from a parameter, and keeps an x that is not a marker a name", () => {
    const r = compileText(
      withBlocks(`
def stack(x, n) {
  y = conv2d(x, 8) x (n - 1)
  return y
}
def x(t) {
  return relu(t)
}
block main on edge {
  a = stack(image, 4)
  b = x (a)
  exit main over all = dense(gap(b), num_classes)
}`),
    );
    expect(r.diagnostics).toEqual([]);
    expect(r.ir!.nodes.filter((n) => n.op === "conv2d")).toHaveLength(3);
    expect(r.ir!.nodes.filter((n) => n.op === "relu")).toHaveLength(1);
  });

  it("records cross-block reads with the gradient stopped unless grad() says otherwise", () => {
    const r = compileText(
      withBlocks(`
block main on edge {
  features = relu(conv2d(image, 8))
  exit main over all = dense(gap(features), num_classes)
}
block ext on edge {
  x = concat(main.features, grad(main.features))
  exit ext over hard = dense(gap(x), num_hard)
}`,
        "route {\n ext when argmax(main) in hard\n main otherwise\n}",
      ),
    );
    expect(r.diagnostics).toEqual([]);
    const ext = r.ir!.blocks.find((b) => b.name === "ext")!;
    expect(ext.reads).toHaveLength(1);
    expect(ext.reads[0]!.from).toBe("main");
    expect(ext.reads[0]!.gradient).toBe(true);
  });

  it("blocks may be declared before the blocks they read", () => {
    const r = compileText(
      withBlocks(`
block ext on edge {
  exit ext over hard = dense(gap(main.features), num_hard)
}
block main on edge {
  features = relu(conv2d(image, 8))
  exit main over all = dense(gap(features), num_classes)
}`,
        "route {\n ext when argmax(main) in hard\n main otherwise\n}",
      ),
    );
    expect(r.diagnostics).toEqual([]);
    expect(r.ir!.blocks.map((b) => b.name)).toEqual(["ext", "main"]);
  });

  describe("a block reads another block through a def as it would directly", () => {
    const route = "route {\n ext when argmax(main) in hard\n main otherwise\n}";
    const main = `block main on edge {
  features = relu(conv2d(image, 8))
  exit main over all = dense(gap(features), num_classes)
}`;
    // `ext` comes first, so only the read of `main` orders the blocks.
    const ext = (body: string) => `block ext on edge {\n  y = relu(conv2d(image, 8))\n  exit ext over hard = dense(gap(${body}), num_hard)\n}`;
    const direct = compileText(withBlocks(`${ext("concat(y, main.features)")}\n${main}`, route));
    const readsOf = (r: typeof direct) => r.ir!.blocks.find((b) => b.name === "ext")!.reads.map(({ tensor, from, gradient, label }) => ({ tensor, from, gradient, label }));
    const opsOf = (r: typeof direct, block: string) => r.ir!.nodes.filter((n) => n.block === block).map((n) => n.op);

    it("a def that reads `main.features`", () => {
      const r = compileText(withBlocks(`def tap(x) {\n  return concat(x, main.features)\n}\n${ext("tap(y)")}\n${main}`, route));
      expect(r.diagnostics).toEqual([]);
      expect(readsOf(r)).toEqual(readsOf(direct));
      expect(readsOf(r)).toEqual([{ tensor: direct.ir!.blocks[1]!.exports.features, from: "main", gradient: false, label: "main.features" }]);
      expect(opsOf(r, "ext")).toEqual(opsOf(direct, "ext"));
      expect(r.results.routes).toEqual(direct.results.routes);
      expect(r.results.partition).toEqual(direct.results.partition);
    });

    it("a def called through another def, and a def given the block as an argument", () => {
      const nested = compileText(withBlocks(`def inner(x) {\n  return concat(x, main.features)\n}\ndef outer(x) {\n  return inner(x)\n}\n${ext("outer(y)")}\n${main}`, route));
      expect(nested.diagnostics).toEqual([]);
      expect(readsOf(nested)).toEqual(readsOf(direct));
      const passed = compileText(withBlocks(`def tap(x, b) {\n  return concat(x, b.features)\n}\n${ext("tap(y, main)")}\n${main}`, route));
      expect(passed.diagnostics).toEqual([]);
      expect(readsOf(passed)).toEqual(readsOf(direct));
    });

    it("a cycle through a def is MN2020, reported at the call with the read inside the def", () => {
      const r = compileText(
        withBlocks(
          `def tap(x) {\n  return concat(x, ext.y)\n}\nblock ext on edge {\n  y = relu(conv2d(main.features, 8))\n  exit ext over hard = dense(gap(y), num_hard)\n}\nblock main on edge {\n  features = relu(conv2d(image, 8))\n  exit main over all = dense(gap(tap(features)), num_classes)\n}`,
          route,
        ),
      );
      expect(errorCodes(r)).toEqual(["MN2020"]);
      const d = r.diagnostics[0]!;
      expect(d.message).toBe("blocks read each other in a cycle: ext → main → ext (through def `tap`)");
      expect(location(d.span!)).toMatchObject({ line: 13, column: 34 });
      expect(d.related).toHaveLength(1);
      expect(d.related![0]!.message).toBe("`ext.y` is read here, in def `tap`");
      expect(location(d.related![0]!.span)).toMatchObject({ line: 5, column: 20 });
    });

    it("a cycle through mutually recursive defs is MN2020, whichever of them another block called first", () => {
      const defs = `def widen(x, n) {\n  if n > 0 {\n    y = narrow(x, n - 1)\n  } else {\n    y = concat(x, ext.y)\n  }\n  return y\n}\ndef narrow(x, n) {\n  return widen(relu(x), n)\n}`;
      const spec = (probe: string) =>
        withBlocks(
          `${defs}\nblock probe on edge {\n  p = ${probe}(relu(conv2d(image, 8)), 0)\n  exit probe over all = dense(gap(p), num_classes)\n}\nblock ext on edge {\n  y = relu(conv2d(main.features, 8))\n  exit ext over hard = dense(gap(y), num_hard)\n}\nblock main on edge {\n  features = relu(conv2d(image, 8))\n  exit main over all = dense(gap(narrow(features, 1)), num_classes)\n}`,
          route,
        );
      for (const probe of ["widen", "narrow"]) {
        const r = compileText(spec(probe));
        expect(errorCodes(r), probe).toEqual(["MN2020"]);
        expect(r.diagnostics[0]!.message).toBe("blocks read each other in a cycle: ext → main → ext (through def `narrow`)");
        expect(r.diagnostics[0]!.related!.map((x) => x.message)).toEqual(["`ext.y` is read here, in def `widen` (called as narrow → widen)"]);
      }
    });

    it("a def called twice by each of 24 nested defs is followed once, not 2^24 times", () => {
      const defs = Array.from({ length: 24 }, (_, i) => `def d${i}(x, n) {\n  if n > 0 {\n    a = d${i + 1}(x, n - 1)\n    b = d${i + 1}(a, n - 1)\n  } else {\n    b = concat(x, main.features)\n  }\n  return b\n}`);
      const last = "def d24(x, n) {\n  return concat(x, main.features)\n}";
      const r = compileText(withBlocks(`${defs.join("\n")}\n${last}\n${ext("d0(y, 1)")}\n${main}`, route));
      expect(r.diagnostics).toEqual([]);
      expect(readsOf(r)).toEqual(readsOf(direct));
    });

    it("a def parameter named like a block is not a read of that block", () => {
      const r = compileText(
        withBlocks(`def f(main) {\n  return relu(main)\n}\nblock ext on edge {\n  y = f(conv2d(image, 8))\n  exit ext over hard = dense(gap(y), num_hard)\n}\nblock main on edge {\n  features = concat(relu(conv2d(image, 8)), ext.y)\n  exit main over all = dense(gap(features), num_classes)\n}`, route),
      );
      expect(r.diagnostics).toEqual([]);
      expect(r.ir!.blocks.find((b) => b.name === "main")!.reads.map((x) => x.label)).toEqual(["ext.y"]);
    });
  });

  it("an op parameter without a default is required unless the op marks it optional (a pool's stride)", () => {
    const r = compileText(withBlocks(`block main on edge {\n  x = max_pool(relu(conv2d(image, 8)), kernel: 4)\n  exit main over all = dense(gap(x), num_classes)\n}`));
    expect(r.diagnostics).toEqual([]);
    const pool = r.ir!.nodes.find((n) => n.op === "max_pool")!;
    expect(pool.attrs).toEqual({ kernel: 4, padding: "valid" });
    expect(r.shapes[pool.output]).toEqual([8, 8, 8]);
    const missing = compileText(withBlocks(`block main on edge {\n  x = conv2d(image, kernel: 3)\n  exit main over all = dense(gap(x), num_classes)\n}`));
    expect(missing.diagnostics.map((d) => [d.code, d.message])).toEqual([["MN2005", "`conv2d` needs `filters`"]]);
  });

  it("reports every error of a file in one run", () => {
    const r = compileText(
      withBlocks(`
block main on edge {
  x = conv2d(imgae, 8)
  y = relu(x)
  z = conv2d(image, 8, kernal: 3)
  exit main over all = dense(gap(image), num_classes)
}
block main on cloud {
  exit c over all = dense(gap(image), 10)
}`),
    );
    expect(errorCodes(r).sort()).toEqual(["MN2001", "MN2003", "MN2004"].sort());
    const unknown = r.diagnostics.find((d) => d.code === "MN2001")!;
    expect(unknown.hint).toBe("did you mean `image`?");
  });
});

describe("layers that reach no exit (warning MN2024)", () => {
  const route = "route {\n ext when argmax(main) in hard\n main otherwise\n}";
  const warnings = (r: ReturnType<typeof compileText>) => r.diagnostics.filter((d) => d.severity === "warning");

  it("are warned where their value is assigned, and still counted in the costs", () => {
    const body = (extra: string) => withBlocks(`block main on edge {\n  x = relu(conv2d(image, 8))\n${extra}  exit main over all = dense(gap(x), num_classes)\n}`);
    const r = compileText(body("  spare = conv2d(x, 64, kernel: 3)\n"));
    expect(errorCodes(r)).toEqual([]);
    expect(warnings(r)).toHaveLength(1);
    const w = warnings(r)[0]!;
    expect(w.code).toBe("MN2024");
    expect(w.message).toBe("value `spare` is counted in the costs (1 layer) but reaches no exit");
    expect(location(w.span!)).toMatchObject({ file: "spec.meanet", line: 6, column: 11 });
    const without = compileText(body(""));
    expect(without.diagnostics).toEqual([]);
    const params = (x: typeof r) => summarize(x.ir!, x.results).blocks[0]!.params;
    expect(params(r) - params(without)).toBe(3 * 3 * 8 * 64 + 64);
  });

  it("a tensor another block reads, or one that feeds an exit, is used", () => {
    const r = compileText(
      withBlocks(
        `block main on edge {
  features = relu(conv2d(image, 8))
  side = conv2d(features, 4)
  exit main over all = dense(gap(features), num_classes)
}
block adaptive on edge {
  out = relu(conv2d(image, 4))
}
block ext on edge {
  x = concat(main.side, adaptive.out)
  exit ext over hard = dense(gap(x), num_hard)
}`,
        route,
      ),
    );
    expect(r.diagnostics).toEqual([]);
  });

  it("a tensor another block reads only on the way to no exit is unused too, as is the layer that reads it", () => {
    const r = compileText(
      withBlocks(
        `block main on edge {
  features = relu(conv2d(image, 8))
  side = conv2d(features, 4)
  exit main over all = dense(gap(features), num_classes)
}
block ext on edge {
  wasted = conv2d(main.side, 4)
  exit ext over hard = dense(gap(image), num_hard)
}`,
        route,
      ),
    );
    expect(warnings(r).map((w) => [w.message, location(w.span!).line, w.hint])).toEqual([
      ["value `side` is counted in the costs (1 layer) but reaches no exit", 6, "only block `ext` reads it, and not on the way to an exit; remove it, or use it on the way to an exit"],
      ["value `wasted` is counted in the costs (1 layer) but reaches no exit", 10, "no exit and no other block uses it; remove it, or use it on the way to an exit"],
    ]);
  });

  it("are not looked for once an error is reported", () => {
    const r = compileText(withBlocks(`block main on edge {\n  x = relu(conv2d(image, 8))\n  exit main over all = dense(gap(y), num_classes)\n}`));
    expect(r.diagnostics.map((d) => d.code)).toEqual(["MN2001"]);
  });
});

describe("cost, partition and routes", () => {
  const chain = (objective: string, budget: string) =>
    compileText(
      withBlocks(`
block main on edge {
  exit main over all = dense(gap(relu(conv2d(image, 4))), num_classes)
}
block cloud on auto {
  a = conv2d(image, 64, kernel: 3)
  b = max_pool(a, kernel: 4)
  c = conv2d(b, 8, kernel: 3)
  d = conv2d(c, 512, kernel: 3)
  e = global_avg_pool(d)
  exit cloud over all = dense(e, num_classes)
}`,
        `objective ${objective}\ndevice edge: edge_int8_45nm { link: lte ${budget} }\nroute {\n cloud when entropy(main) > 0.5\n main otherwise\n}`,
      ),
    );

  it("an auto block lists every cut and picks the cheapest that fits", () => {
    const r = chain("energy", "macs: 2.2 M");
    expect(r.diagnostics).toEqual([]);
    const s = summarize(r.ir!, r.results);
    const cuts = s.autoCuts[0]!;
    expect(cuts.candidates).toHaveLength(r.ir!.blocks[1]!.nodes.length + 1);
    const best = Math.min(...cuts.candidates.filter((c) => c.feasible).map((c) => c.energyJ));
    expect(cuts.candidates[cuts.chosen]!.energyJ).toBe(best);
    // Within 2.2 M edge MACs, the cut after the 8-channel conv sends 8×8×8 int8 = 512 B instead of the 12 KiB float image.
    expect(cuts.candidates[cuts.chosen]!.after).toBe("cloud/conv2d_2");
    expect(cuts.candidates[cuts.chosen]!.bytesSent).toBe(512);
    expect(cuts.candidates.filter((c) => !c.feasible).map((c) => c.reason)).toEqual(["edge MACs", "edge MACs", "edge MACs"]);
  });

  it("without budgets, the energy objective keeps the whole chain on the edge (nothing to transmit)", () => {
    const r = chain("energy", "");
    const cuts = summarize(r.ir!, r.results).autoCuts[0]!;
    expect(cuts.chosen).toBe(cuts.candidates.length - 1);
  });

  it("budgets rule out cuts: with a tiny MAC budget the whole auto block goes to the cloud", () => {
    const r = chain("energy", "macs: 500 K");
    expect(r.diagnostics).toEqual([]);
    const cuts = summarize(r.ir!, r.results).autoCuts[0]!;
    expect(cuts.chosen).toBe(0);
    expect(cuts.candidates.slice(1).every((c) => !c.feasible)).toBe(true);
  });

  describe("the cut search holds the MAC budget to the costliest route's edge MACs, as MN4003 does", () => {
    // `ext` runs on the edge but not on the route to `far`: all edge MACs exceed 800 K from the first
    // layer of `far` on, while the costliest route stays within it up to the third.
    const layers = ["conv2d(image, 16, kernel: 3)", "max_pool(%, kernel: 4)", "conv2d(%, 8, kernel: 3)", "conv2d(%, 64, kernel: 3)", "global_avg_pool(%)", "dense(%, num_classes)"];
    const spec = (blocks: string) =>
      withBlocks(
        `block main on edge {
  exit main over all = dense(gap(relu(conv2d(image, 4))), num_classes)
}
block ext on edge {
  exit ext over hard = dense(gap(relu(conv2d(image, 24, kernel: 3))), num_hard)
}
${blocks}`,
        "device edge: edge_int8_45nm { link: lte, macs: 800 K }\nroute {\n far when entropy(main) > 0.5\n ext when argmax(main) in hard\n main otherwise\n}",
      );
    const chain = (from: string, ls: string[], exit: boolean) =>
      ls.map((l, i) => `  ${exit && i === ls.length - 1 ? "exit far over all" : `t${i}`} = ${l.replace("%", i === 0 ? from : `t${i - 1}`)}`).join("\n");
    /** The same chain cut by hand after k layers: the first k in a block on the edge, the rest in one on the cloud. */
    const cutAt = (k: number) => {
      const edge = k > 0 ? `block near on edge {\n${chain("image", layers.slice(0, k), k === layers.length)}\n}\n` : "";
      const cloud = k < layers.length ? `block far on cloud {\n${chain(k > 0 ? `near.t${k - 1}` : "image", layers.slice(k), true)}\n}` : "";
      return compileText(spec(edge + cloud));
    };
    const auto = compileText(spec(`block far on auto {\n${chain("image", layers, true)}\n}`));

    it("every cut fits the search exactly when the same cut made by hand passes MN4003", () => {
      expect(auto.diagnostics).toEqual([]);
      const candidates = auto.results.partition!.auto[0]!.candidates;
      const byHand = candidates.map((_, k) => !errorCodes(cutAt(k)).includes("MN4003"));
      expect(byHand).toEqual([true, true, true, true, false, false, false]);
      expect(candidates.map((c) => c.feasible)).toEqual(byHand);
      expect(candidates.filter((c) => !c.feasible).map((c) => c.reason)).toEqual(["edge MACs", "edge MACs", "edge MACs"]);
    });

    it("the chosen cut passes MN4003, and its route costs what the cut made by hand costs", () => {
      const p = auto.results.partition!.auto[0]!;
      expect(p.chosen).toBeGreaterThan(0);
      const byHand = cutAt(p.candidates[p.chosen]!.edgeNodes);
      expect(byHand.diagnostics).toEqual([]);
      const macs = (r: typeof auto) => r.results.routes!.map(({ exit, edgeMacs, cloudMacs, bytesSent }) => ({ exit, edgeMacs, cloudMacs, bytesSent }));
      expect(macs(auto)).toEqual(macs(byHand));
      expect(Math.max(...macs(auto).map((r) => r.edgeMacs))).toBeLessThanOrEqual(800_000);
    });
  });

  it("route costs follow the routing rules", () => {
    const r = compileText(readFileSync("examples/demo.meanet", "utf8"), "examples/demo.meanet");
    expect(errorCodes(r)).toEqual([]);
    const s = summarize(r.ir!, r.results);
    const block = (n: string) => s.blocks.find((b) => b.name === n)!;
    const route = (n: string) => s.routes.find((x) => x.exit === n)!;
    expect(route("main").edgeMacs).toBe(block("main").macs);
    expect(route("extension").edgeMacs).toBe(block("main").macs + block("adaptive").macs + block("extension").macs);
    expect(route("cloud").edgeMacs).toBe(block("main").macs);
    expect(route("cloud").cloudMacs).toBe(block("cloud").macs);
    expect(route("cloud").bytesSent).toBe(28 * 28);
    const edge = r.ir!.devices.edge;
    expect(route("cloud").energyJ).toBeCloseTo(block("main").macs * edge.energyPerMacJ + 28 * 28 * 8 * edge.energyPerBitJ, 15);
  });

  it("a rule reading defer(…) runs its exits and the deferral model on every route it is consulted on, and the edge stores its weights", () => {
    const text = readFileSync("examples/fashion-mnist.meanet", "utf8");
    const r = compileText(text, "examples/fashion-mnist.meanet");
    expect(errorCodes(r)).toEqual([]);
    const s = summarize(r.ir!, r.results);
    const block = (n: string) => s.blocks.find((b) => b.name === n)!;
    const route = (n: string) => s.routes.find((x) => x.exit === n)!;
    const deferral = deferMacs([10, 5], 16);
    // 21 features (10 + 3 and 5 + 3): the measures read each probability three times, then 21 × 16 + 16 for the MLP.
    expect(deferral).toBe(3 * 15 + 21 * 16 + 16);
    const edge = block("main").macs + block("adaptive").macs + block("extension").macs;
    // The cloud rule comes first and reads defer(main, extension): every input runs both exits and the model.
    for (const exit of ["main", "extension", "cloud"]) expect(route(exit).edgeMacs).toBe(edge + deferral);
    // Without the deferral stage and rule, the same blocks cost the edge 4 × (21 × 16 + 16 + 16 + 1) bytes less.
    const plain = compileText(text.replace("defer(main, extension) > 0.15", "entropy(main) > 0.8").replace("  stage defer { defer: mlp(hidden: 16) }\n", ""), "plain.meanet");
    expect(errorCodes(plain)).toEqual([]);
    const totals = (x: typeof r) => x.results.deviceTotals!.edge;
    expect(totals(r).weightBytes - totals(plain).weightBytes).toBe(4 * deferWeightCount([10, 5], 16));
    expect(totals(r).macs - totals(plain).macs).toBe(deferral);
  });

  it("budget overruns name the budget and the largest block", () => {
    const r = compileText(
      withBlocks(`block main on edge {\n  exit main over all = dense(flatten(conv2d(image, 64)), num_classes)\n}`, "device edge { weight_memory: 64 KiB, activation_memory: 16 KiB, macs: 1 M }"),
    );
    expect(errorCodes(r).sort()).toEqual(["MN4001", "MN4002", "MN4003"]);
    const w = r.diagnostics.find((d) => d.code === "MN4001")!;
    expect(w.message).toContain("64.0 KiB budget");
    expect(w.related?.[0]?.message).toContain("block `main`");
  });

  it("compile-time assertions are checked; accuracy assertions wait for evaluation", () => {
    const r = compileText(
      withBlocks(`block main on edge {\n  exit main over all = dense(gap(conv2d(image, 8)), num_classes)\n}`, "assert main.params <= 100\nassert accuracy >= 0.9"),
    );
    expect(errorCodes(r)).toEqual(["MN4004"]);
    expect(r.ir!.assertions.map((a) => a.when)).toEqual(["compile", "eval"]);
  });
});

describe("semantic checks on values", () => {
  const block = `block main on edge {\n  exit main over all = dense(gap(conv2d(image, 8)), num_classes)\n}`;

  it("a unit name on the next line is not taken as the number's unit", () => {
    const r = compileText(
      withBlocks(`def f(x) {\n  n = 8\n  M = 2\n  return conv2d(x, n * M)\n}\nblock main on edge {\n  exit main over all = dense(gap(f(image)), num_classes)\n}`),
    );
    expect(r.diagnostics).toEqual([]);
    expect(r.shapes[r.ir!.nodes[0]!.output]).toEqual([32, 32, 16]);
  });

  it("quantities in different units combine in base units", () => {
    const r = compileText(
      withBlocks(`def f(x) {
  if 1 MB + 1 KB < 2 MB { return conv2d(x, 8) } else { return conv2d(x, 4) }
}
block main on edge {
  exit main over all = dense(gap(f(image)), num_classes)
}`),
    );
    expect(r.diagnostics).toEqual([]);
    expect(r.shapes[r.ir!.nodes[0]!.output]).toEqual([32, 32, 8]);
  });

  it("negative energies and budgets are rejected", () => {
    const r = compileText(withBlocks(block, "device edge { energy_per_mac: -1 pJ, weight_memory: -2 MiB }"));
    expect(errorCodes(r)).toEqual(["MN2006", "MN2006"]);
  });

  it("setting only the precision takes that precision's MAC energy", () => {
    const r = compileText(withBlocks(block, "device edge: edge_int8_45nm { precision: fp32 }"));
    expect(r.ir!.devices.edge.energyPerMacJ).toBeCloseTo(4.6e-12, 20);
  });

  it("hard classes are ranked by an exit over all classes", () => {
    const r = compileText(
      withBlocks(`${block}\nblock ext on edge {\n  exit ext over hard = dense(gap(conv2d(image, 8)), num_hard)\n}`, "complexity { hard: lowest_accuracy(ext, fraction: 0.5) }\nroute {\n ext when argmax(main) in hard\n main otherwise\n}"),
    );
    expect(errorCodes(r)).toEqual(["MN2025"]);
  });

  it("accuracy bounds are fractions", () => {
    const r = compileText(withBlocks(block, "assert accuracy >= 90"));
    expect(errorCodes(r)).toEqual(["MN2006"]);
  });

  it("optimizer settings are range-checked", () => {
    const r = compileText(withBlocks(block, "train { optimizer: sgd(lr: -0.1, momentum: 1.5, nesterov: 1) }"));
    expect(errorCodes(r)).toEqual(["MN2006", "MN2006", "MN2006"]);
  });
});

describe("cloud budgets", () => {
  it("are checked like the edge's", () => {
    const r = compileText(
      withBlocks(
        `block main on edge {\n  exit main over all = dense(gap(conv2d(image, 8)), num_classes)\n}\nblock cloud on cloud {\n  exit cloud over all = dense(flatten(conv2d(image, 64)), num_classes)\n}`,
        "device cloud { weight_memory: 1 MiB, macs: 1 M }\nroute {\n cloud when entropy(main) > 0.5\n main otherwise\n}",
      ),
    );
    expect(errorCodes(r).sort()).toEqual(["MN4001", "MN4003"]);
    expect(r.diagnostics.find((d) => d.code === "MN4003")!.message).toContain("on the cloud");
  });
});
