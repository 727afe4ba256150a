import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { emitIrJson } from "../src/codegen/index.js";
import { planPartitions } from "../src/codegen/onnx/index.js";
import { classIdsOf, partitionMacs, partitionNodes } from "../src/format/exits.js";
import { compileText } from "./helpers/compile.js";

/** Every example's ir.json, compiled in memory. */
function examples() {
  return readdirSync("examples")
    .filter((f) => f.endsWith(".meanet"))
    .map((f) => {
      const path = join("examples", f);
      const r = compileText(readFileSync(path, "utf8"), path);
      expect(r.ir, f).toBeTruthy();
      return { name: f, ir: emitIrJson(r.ir!, r.shapes, r.results) };
    });
}

describe("the on-disk contract", () => {
  it("the nodes of each exported file, recovered from what the manifest records, are the ones export planned", () => {
    for (const { name, ir } of examples()) {
      const plans = planPartitions(ir);
      expect(plans.length, name).toBeGreaterThan(1);
      for (const { nodes, ...recorded } of plans) {
        expect(partitionNodes(ir, recorded), `${name} ${recorded.path}`).toEqual(nodes);
        expect(nodes.length).toBeGreaterThan(0);
      }
      const macs = partitionMacs(ir, plans);
      for (const p of plans) expect(macs.get(p.path)).toBe(p.nodes.reduce((s, n) => s + ir.nodes[n]!.macs, 0));
    }
  });

  it("class ids of an exit: all, hard in their recorded order, easy, and listed labels", () => {
    const labels = ["a", "b", "c", "d", "e"];
    expect(classIdsOf(labels, { kind: "all" }, [3, 1])).toEqual([0, 1, 2, 3, 4]);
    expect(classIdsOf(labels, { kind: "hard" }, [3, 1])).toEqual([3, 1]);
    expect(classIdsOf(labels, { kind: "easy" }, [3, 1])).toEqual([0, 2, 4]);
    expect(classIdsOf(labels, { kind: "labels", labels: ["e", "a"] }, [3, 1])).toEqual([4, 0]);
  });
});
