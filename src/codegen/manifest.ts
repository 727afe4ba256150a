import type { IrGraph } from "../ir/index.js";
import { exportedFiles, type Manifest, type ManifestArtifact } from "../format/manifest.js";
import { deviceJson } from "./irJson.js";
import { manifestHardClasses } from "../format/hardClasses.js";
import { sha256 } from "../format/hash.js";

export { sha256 };

export interface SpecHashes {
  file: string;
  sha256: string;
  imports: { file: string; sha256: string }[];
}

/** Pure: the manifest for these artifacts. The build id depends only on the inputs, so rebuilds are byte-identical. */
export function emitManifest(ir: IrGraph, spec: SpecHashes, toolVersion: string, artifacts: ManifestArtifact[], trained?: { hardClasses: string[] }): string {
  const sel = ir.hardClasses;
  const buildId = sha256(JSON.stringify([spec.sha256, spec.imports.map((i) => i.sha256), toolVersion])).slice(0, 16);
  const manifest: Manifest = {
    format: "meanet-manifest",
    version: 1,
    model: ir.model,
    buildId,
    tool: { name: "meanet", version: toolVersion },
    spec,
    input: { name: ir.input.name, dtype: ir.input.dtype, shape: ir.input.shape, layout: "NHWC" },
    labels: ir.labels,
    hardClasses: {
      selection: sel.kind === "labels" ? "labels" : `lowest_accuracy(${sel.exit}, count: ${sel.count})`,
      count: sel.count,
      labels: manifestHardClasses(sel, trained?.hardClasses),
    },
    routing: ir.routing.map((r) => ({ target: r.target, when: r.when ?? null })),
    exits: ir.exits.map((x) => ({ name: x.name, block: x.block, classes: x.classes })),
    devices: { edge: deviceJson(ir, "edge"), cloud: deviceJson(ir, "cloud") },
    assertions: ir.assertions.map((a) => ({ text: a.text, when: a.when, status: a.when === "compile" ? "passed" : "pending" })),
    artifacts,
  };
  return JSON.stringify(manifest, null, 2) + "\n";
}

/** Pure: a manifest with the export's section and its artifacts, replacing every file of an earlier export. */
export function emitManifestWithExport(manifest: Manifest, exported: NonNullable<Manifest["export"]>, artifacts: ManifestArtifact[]): string {
  const replaced = new Set(exportedFiles(manifest));
  for (const a of artifacts) replaced.add(a.path);
  const all = [...manifest.artifacts.filter((a) => !replaced.has(a.path)), ...artifacts].sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  const { artifacts: _old, export: _previous, ...rest } = manifest;
  return JSON.stringify({ ...rest, export: exported, artifacts: all }, null, 2) + "\n";
}
