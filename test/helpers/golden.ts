/**
 * Baselines of generated files under test/golden/generated/ (see test/golden/README.md).
 * `UPDATE_GOLDEN=1` writes the baselines instead of comparing them, and deletes baselines of
 * files no longer generated; review the result with `git diff test/golden/generated`.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";

export const UPDATE = process.env.UPDATE_GOLDEN === "1";
export const GENERATED_DIR = fileURLToPath(new URL("../golden/generated/", import.meta.url));

/** Every file under `dir`, as paths relative to it, sorted. */
export function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const walk = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.isFile() ? [relative(dir, join(d, e.name))] : []));
  return walk(dir).sort();
}

/**
 * Compares generated files (path inside `set` → text) with the baselines in
 * test/golden/generated/<set>/: each file, softly, so that one run names every file that differs;
 * then that the baselines are exactly the generated files. Under UPDATE_GOLDEN=1, writes them first.
 */
export function expectGoldenSet(set: string, files: Map<string, string>): void {
  const dir = join(GENERATED_DIR, set);
  const shown = `test/golden/generated/${set}`;
  if (UPDATE) {
    for (const stale of filesUnder(dir).filter((f) => !files.has(f))) rmSync(join(dir, stale));
    for (const [path, text] of files) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
  }
  const baselines = filesUnder(dir);
  for (const [path, text] of files) {
    if (!baselines.includes(path)) continue;
    expect.soft(text, `${shown}/${path} differs from the generated file; if the change is intended, UPDATE_GOLDEN=1 rewrites it`).toBe(readFileSync(join(dir, path), "utf8"));
  }
  expect(baselines, `the baselines in ${shown} are not the files generated; UPDATE_GOLDEN=1 writes the missing ones and deletes the stale ones`).toEqual([...files.keys()].sort());
}
