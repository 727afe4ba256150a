/** Pieces the benchmarks share: running a meanet command in-process, percentiles, rounding, a process's CPU time. */
import { readFileSync } from "node:fs";
import type { Io } from "../src/cli/io.js";

/** Runs a meanet command in-process, keeping its output unless it fails. */
export async function meanet(run: (argv: string[], io: Io) => number | Promise<number>, argv: string[]): Promise<void> {
  const log: string[] = [];
  const io: Io = { out: (t) => void log.push(t), err: (t) => void log.push(t), isTty: false };
  if ((await run(argv, io)) !== 0) throw new Error(`meanet ${argv.join(" ")} failed:\n${log.join("\n")}`);
}

/** Nearest-rank percentile of values sorted in ascending order; NaN for none. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]! : NaN;
}

export const round = (x: number, digits: number) => Number(x.toFixed(digits));

/** CPU seconds a process has used (Linux /proc; clock ticks of 1/100 s), or NaN where it cannot be read. */
export function cpuSecondsOf(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}
