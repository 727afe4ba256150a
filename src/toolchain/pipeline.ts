import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MeanetError } from "../diagnostics/index.js";
import type { BuildStage, Manifest, StageRecord } from "../format/manifest.js";
import { writeAtomic } from "../runtime/files.js";
import { previousStages } from "./buildFiles.js";
import { buildState, hashOf, stageRecord, STAGES, whyRun } from "./buildStages.js";
import type { BuildLog, Stage, Work } from "./stages/stage.js";

export type StageStatus = "ran" | "reused" | "failed" | "skipped";

export interface StageOutcome {
  status: StageStatus;
  seconds: number;
  /** Why the stage ran (`changed: data`, `no earlier run`, `--force`, a missing file); null when it did not. */
  reason: string | null;
}

export const secondsSince = (from: number) => Number(((performance.now() - from) / 1000).toFixed(2));

/** A stage's line on stderr: its name in a column, then what happened. */
export const stageLine = (stage: BuildStage, text: string) => `${stage.padEnd(8)}${text}`;

function readManifest(dir: string): Manifest | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as Manifest;
  } catch {
    return undefined;
  }
}

/** The stages of one build directory: which ran, which were reused, and the records kept in manifest.json. */
export class Pipeline {
  readonly outcomes = Object.fromEntries(STAGES.map((s) => [s, { status: "skipped", seconds: 0, reason: null }])) as Record<BuildStage, StageOutcome>;
  readonly records: Partial<Record<BuildStage, StageRecord>>;

  constructor(
    readonly dir: string,
    private readonly log: BuildLog,
    readonly force: boolean,
  ) {
    this.records = { ...previousStages(dir) };
  }

  manifest(): Manifest | undefined {
    return readManifest(this.dir);
  }

  /** A stage's own lines (training epochs, evaluation steps), indented above its stage line; a terminal gets training's progress bar. */
  detail = (text: string): void => {
    if (this.log.isTty) process.stderr.write(text.endsWith("\n") || text.startsWith("\r") ? text : `${text}\n`);
    else for (const l of text.replace(/\n$/, "").split("\n")) this.log.err(`  ${l}`);
  };

  /** Writes the records into manifest.json, in stage order, keeping every other field. */
  private persist(): void {
    const m = this.manifest();
    if (!m) return;
    const { artifacts, stages: _previous, ...rest } = m;
    const stages = Object.fromEntries(STAGES.filter((s) => this.records[s]).map((s) => [s, this.records[s]]));
    writeAtomic(join(this.dir, "manifest.json"), JSON.stringify({ ...rest, stages, artifacts }, null, 2) + "\n");
  }

  failed(stage: BuildStage, reason: string | null, message: string, from = performance.now()): false {
    this.outcomes[stage] = { status: "failed", seconds: secondsSince(from), reason };
    this.log.err(stageLine(stage, `failed${reason ? ` (${reason})` : ""}: ${message}`));
    return false;
  }

  /**
   * Reuses a stage when its record holds (and its check of the manifest finds nothing wrong),
   * else runs it. A stage drops its record before it starts and records its key only when it
   * finishes, so a stage that fails or is interrupted runs again next time. A MeanetError is a
   * known failure: printed, and the stage failed; anything else is a bug.
   */
  async stage(name: BuildStage, stage: Stage): Promise<boolean> {
    const m = this.manifest();
    const reason = whyRun(this.records[name], stage.inputs, buildState(this.dir, m), this.force) ?? stage.extra?.(m);
    if (reason === undefined) {
      this.outcomes[name] = { status: "reused", seconds: 0, reason: null };
      this.log.err(stageLine(name, "reused (inputs unchanged)"));
      return true;
    }
    if (this.records[name]) {
      delete this.records[name];
      this.persist();
    }
    const started = performance.now();
    let result: Work;
    try {
      result = await stage.work();
    } catch (e) {
      if (!(e instanceof MeanetError)) throw e;
      this.log.err(e.render());
      result = { failed: e.render().split("\n")[0]! };
    }
    if ("failed" in result) return this.failed(name, reason, result.failed, started);
    this.records[name] = stageRecord(stage.inputs, result.outputs);
    this.persist();
    this.outcomes[name] = { status: "ran", seconds: secondsSince(started), reason };
    this.log.err(stageLine(name, `ran in ${secondsSince(started).toFixed(1)} s (${reason}): ${result.summary}`));
    return true;
  }

  /** The files a finished stage wrote, as one hash (a later stage's input). */
  outputsOf(stage: BuildStage): string {
    return hashOf(this.records[stage]?.outputs ?? null);
  }
}
