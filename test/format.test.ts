import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { emitIrJson } from "../src/codegen/index.js";
import { planPartitions } from "../src/codegen/onnx/index.js";
import { classIdsOf, partitionMacs, partitionNodes } from "../src/format/exits.js";
import { sha256 } from "../src/format/hash.js";
import { exportedFiles, type Manifest } from "../src/format/manifest.js";
import { checkExportedFiles } from "../src/runtime/export/artifacts.js";
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

  describe("the files of an export", () => {
    const partition = (path: string, device: "edge" | "cloud") => ({ name: path, device, path, exits: [], inputs: [], outputs: [] });
    const exportOf = (files?: string[]): NonNullable<Manifest["export"]> => ({
      opset: 17,
      irVersion: 8,
      weights: { kind: "random", seed: 7 },
      layout: "",
      hardClasses: [],
      partitions: [partition("edge/main.onnx", "edge"), partition("cloud/model.onnx", "cloud")],
      ...(files ? { files } : {}),
    });
    const artifact = (path: string, content: string) => ({ path, sha256: sha256(content), bytes: content.length });
    const artifacts = [
      artifact("cloud/model.onnx", "cloud"),
      artifact("cloud/triton/m/1/model.onnx", "cloud"),
      artifact("cloud/triton/m/config.pbtxt", "config"),
      artifact("edge/main.onnx", "edge"),
      artifact("ir.json", "{}"),
      artifact("weights/main/weights.bin", "w"),
    ];

    it("are the files the export recorded, whatever they are, and none without an export", () => {
      // A file of a later export (a quantized copy, say) is listed with no change to the reader.
      const files = ["edge/main.onnx", "cloud/model.onnx", "cloud/triton/m/1/model.onnx", "edge/main.int8.onnx"];
      expect(exportedFiles({ export: exportOf(files), artifacts })).toEqual(files);
      expect(exportedFiles({ artifacts })).toEqual([]);
    });

    it("of an export recorded before `files`: the partitions' files and their byte-identical copies", () => {
      expect(exportedFiles({ export: exportOf(), artifacts })).toEqual(["edge/main.onnx", "cloud/model.onnx", "cloud/triton/m/1/model.onnx"]);
    });

    it("are each checked against the manifest's sha256: a changed, missing or unlisted one is MN5005 naming it", () => {
      const dir = mkdtempSync(join(tmpdir(), "meanet-files-"));
      try {
        const files = ["edge/main.onnx", "cloud/model.onnx", "cloud/triton/m/1/model.onnx"];
        const content: Record<string, string> = { "edge/main.onnx": "edge", "cloud/model.onnx": "cloud", "cloud/triton/m/1/model.onnx": "cloud" };
        for (const f of files) {
          mkdirSync(dirname(join(dir, f)), { recursive: true });
          writeFileSync(join(dir, f), content[f]!);
        }
        const build = { dir, manifest: { export: exportOf(files), artifacts } };
        expect(() => checkExportedFiles(build)).not.toThrow();
        const copy = join(dir, "cloud/triton/m/1/model.onnx");
        writeFileSync(copy, "clouD");
        const changed = `${copy} does not match the sha256 in manifest.json: it changed since the export; run \`meanet export ${dir}\` again`;
        expect(() => checkExportedFiles(build)).toThrow(expect.objectContaining({ code: "MN5005", message: changed }));
        rmSync(copy);
        expect(() => checkExportedFiles(build)).toThrow(expect.objectContaining({ code: "MN5005", message: expect.stringContaining(`${copy} is missing`) }));
        writeFileSync(copy, "cloud");
        expect(() => checkExportedFiles(build)).not.toThrow();
        const unlisted = { dir, manifest: { export: exportOf(files), artifacts: artifacts.filter((a) => !a.path.startsWith("cloud/triton/m/1/")) } };
        expect(() => checkExportedFiles(unlisted)).toThrow(expect.objectContaining({ code: "MN5005", message: expect.stringContaining(`${copy} is not listed in manifest.json's artifacts`) }));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
