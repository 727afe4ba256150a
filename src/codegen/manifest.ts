import { createHash } from "node:crypto";
import type { IrGraph } from "../ir/index.js";
import type { Manifest, ManifestArtifact } from "./format/manifest.js";
import { deviceJson } from "./irJson.js";

export function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

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
      labels: sel.kind === "labels" ? sel.labels! : (trained?.hardClasses ?? null),
    },
    routing: ir.routing.map((r) => ({ target: r.target, when: r.when ?? null })),
    exits: ir.exits.map((x) => ({ name: x.name, block: x.block, classes: x.classes })),
    devices: { edge: deviceJson(ir, "edge"), cloud: deviceJson(ir, "cloud") },
    assertions: ir.assertions.map((a) => ({ text: a.text, when: a.when, status: a.when === "compile" ? "passed" : "pending" })),
    artifacts,
  };
  return JSON.stringify(manifest, null, 2) + "\n";
}
