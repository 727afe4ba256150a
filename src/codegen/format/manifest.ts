import type { IrJsonDevice } from "./ir.js";

/** The typed format of manifest.json (DESIGN.md §4). Later stages add artifacts and fill `hardClasses.labels`. */
export interface ManifestArtifact {
  path: string;
  sha256: string;
  bytes: number;
}

export interface Manifest {
  format: "meanet-manifest";
  version: 1;
  model: string;
  buildId: string;
  tool: { name: "meanet"; version: string };
  spec: { file: string; sha256: string; imports: { file: string; sha256: string }[] };
  input: { name: string; dtype: string; shape: number[]; layout: "NHWC" };
  labels: string[];
  hardClasses: { selection: string; count: number; labels: string[] | null };
  routing: { target: string; when: unknown }[];
  exits: { name: string; block: string; classes: unknown }[];
  devices: Record<"edge" | "cloud", IrJsonDevice>;
  assertions: { text: string; when: "compile" | "eval"; status: "passed" | "pending" }[];
  artifacts: ManifestArtifact[];
}
