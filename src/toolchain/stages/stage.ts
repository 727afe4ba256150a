/**
 * What a stage of `meanet build` is to the pipeline that runs it. Types only: the modules of the
 * stages import them as types, so that this file is in no stage's key (toolKey.ts).
 */
import type { BuildStage, Manifest, ManifestArtifact } from "../../format/manifest.js";
import type { CompileResult } from "../../ir/index.js";
import type { LocatedDataset } from "../../runtime/train/data/locate.js";
import type { TrainJob } from "../../runtime/train/run.js";
import type { BuildFiles } from "../buildFiles.js";
import type { Pipeline } from "../pipeline.js";
import type { StageInputs } from "../buildStages.js";

/** Where a build reports: one line per stage, and the stages' own lines, on stderr. */
export interface BuildLog {
  err(text: string): void;
  isTty: boolean;
}

/** The training flags of a build: those of `meanet train`. */
export type BuildJob = Omit<TrainJob, "buildDir" | "progress">;

/** What a stage did: the files it wrote (path → sha256) and one line about it; or why it failed, already reported. */
export type Work = { outputs: Record<string, string>; summary: string } | { failed: string };

/**
 * A stage as the pipeline runs it: the inputs its key hashes, its work, and a check of the
 * manifest that makes it run although its inputs are unchanged (undefined when all is well).
 */
export interface Stage {
  inputs: StageInputs;
  work(): Promise<Work>;
  extra?(m: Manifest | undefined): string | undefined;
}

/** The data set of a build: where its files are, and the identity of each split's contents. */
export interface BuildData {
  located: LocatedDataset;
  identity: { train: string; test: string };
}

/** What the stages of one build share. */
export interface StageContext {
  /** The spec, compiled without errors. */
  r: CompileResult;
  b: BuildFiles;
  job: BuildJob;
  log: BuildLog;
  p: Pipeline;
  /** The key of the code a stage runs: its `tool` input. */
  tool(stage: BuildStage): string;
  /** Writes the build's files and its manifest, which lists `extra` too. */
  writeBuild(extra?: ManifestArtifact[], trained?: { hardClasses: string[] }): string[];
}
