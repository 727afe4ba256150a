import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { VERSION } from "./version.js";

/** The folder of meanet's modules: dist/ when built, src/ when run from source. */
const CODE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Relative module specifiers of a module's text: static imports, re-exports and `import("./…")`. */
const RELATIVE_IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)(["'])(\.{1,2}\/[^"']+)\1/gm;

/** The file a specifier names (from source, `./x.js` is `./x.ts`); none for text that only looks like an import. */
function fileOf(from: string, specifier: string): string | undefined {
  const path = join(dirname(from), specifier);
  return [path, path.replace(/\.js$/, ".ts")].find((p) => statSync(p, { throwIfNoEntry: false })?.isFile());
}

/**
 * The code a build stage runs: meanet's version and the SHA-256 of every module reachable through
 * relative imports from the stage's entry modules (paths relative to dist/ or src/, e.g.
 * `runtime/train/run.js`). A change to that code in a checkout changes the key, without a new
 * version; a change elsewhere in meanet does not.
 */
export function toolKey(entries: readonly string[], root: string = CODE_ROOT): string {
  return hashModules(modulesOf(entries, root));
}

/** Each module reachable from `entries` (paths relative to `root`) with the SHA-256 of its text, by path. */
export function modulesOf(entries: readonly string[], root: string = CODE_ROOT): Map<string, string> {
  const seen = new Map<string, string>();
  const visit = (file: string | undefined): void => {
    if (!file) return;
    const name = relative(root, file).replace(/\.ts$/, ".js");
    if (seen.has(name)) return;
    const text = readFileSync(file, "utf8");
    seen.set(name, createHash("sha256").update(text).digest("hex"));
    for (const m of text.matchAll(RELATIVE_IMPORT)) visit(fileOf(file, m[2]!));
  };
  for (const e of entries) {
    const file = fileOf(join(root, "index"), `./${e}`);
    if (!file) throw new Error(`meanet's module ${e} is missing from ${root}`);
    visit(file);
  }
  return seen;
}

function hashModules(seen: Map<string, string>): string {
  const modules = [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash("sha256").update(JSON.stringify({ version: VERSION, modules })).digest("hex");
}
