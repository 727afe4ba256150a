import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PACKAGE_ROOT, VERSION } from "./package.js";

/**
 * Where meanet's modules are: the folder the running code is in (dist/ when built, src/ under
 * tsx), and the TypeScript sources when the package has them (a checkout has both; an installed
 * package may have dist/ only).
 */
export interface CodeRoots {
  running: string;
  sources: string | undefined;
}

const isDirectory = (p: string) => Boolean(statSync(p, { throwIfNoEntry: false })?.isDirectory());
const isFile = (p: string) => Boolean(statSync(p, { throwIfNoEntry: false })?.isFile());

export const CODE_ROOTS: CodeRoots = {
  running: resolve(dirname(fileURLToPath(import.meta.url)), ".."),
  sources: isDirectory(join(PACKAGE_ROOT, "src")) ? join(PACKAGE_ROOT, "src") : undefined,
};

/** Relative module specifiers of a module's text: static imports, re-exports and `import("./…")`. */
const RELATIVE_IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)(["'])(\.{1,2}\/[^"']+)\1/gm;

/** `import type … from "…"` and `export type … from "…"`: types only, no code runs (the compiled module has no such import). */
const TYPE_ONLY = /^\s*(?:import|export)\s+type\s[^;=]*?\bfrom\s*(["'])[^"']*\1/gm;

/** The file a specifier names (from source, `./x.js` is `./x.ts`); none for text that only looks like an import. */
function fileOf(from: string, specifier: string): string | undefined {
  const path = join(dirname(from), specifier);
  return [path, path.replace(/\.js$/, ".ts")].find(isFile);
}

/** A module reached from a stage's entries: the file read, and the SHA-256 of its text. */
interface Module {
  file: string;
  sha256: string;
}

/** Each module reachable from `entries` (paths relative to `root`), by its path relative to root with `.ts` read as `.js`. */
function reach(entries: readonly string[], root: string): Map<string, Module> {
  const seen = new Map<string, Module>();
  const visit = (file: string | undefined): void => {
    if (!file) return;
    const name = relative(root, file).replace(/\.ts$/, ".js");
    if (seen.has(name)) return;
    const text = readFileSync(file, "utf8");
    seen.set(name, { file, sha256: createHash("sha256").update(text).digest("hex") });
    for (const m of text.replace(TYPE_ONLY, "").matchAll(RELATIVE_IMPORT)) visit(fileOf(file, m[2]!));
  };
  for (const e of entries) {
    const file = fileOf(join(root, "index"), `./${e}`);
    if (!file) throw new Error(`meanet's module ${e} is missing from ${root}`);
    visit(file);
  }
  return seen;
}

/** Each module reachable from `entries` (paths relative to `root`) with the SHA-256 of its text, by path. */
export function modulesOf(entries: readonly string[], root: string = keyRoot(entries, CODE_ROOTS)): Map<string, string> {
  return new Map([...reach(entries, root)].map(([name, m]) => [name, m.sha256]));
}

/**
 * The folder a stage's key reads its modules from. The TypeScript sources when the package has
 * them, whether meanet runs from them or from dist/, so that the same code gives the same key
 * either way; dist/ when it is all there is. When meanet runs from a dist/ that is older than
 * the sources a stage reaches (sources edited and not built again), the code that runs is not
 * the sources', so the key is dist/'s: a stage run so is not taken for one of the sources' code.
 */
export function keyRoot(entries: readonly string[], code: CodeRoots): string {
  const { running, sources } = code;
  if (sources === undefined || sources === running) return running;
  for (const [name, m] of reach(entries, sources)) {
    const built = statSync(join(running, name), { throwIfNoEntry: false });
    if (!built || built.mtimeMs < statSync(m.file).mtimeMs) return running;
  }
  return sources;
}

/**
 * The code a build stage runs: meanet's version and the SHA-256 of every module reachable through
 * relative imports (type-only ones aside) from the stage's entry modules (paths relative to dist/
 * or src/, e.g. `toolchain/stages/train.js`). A change to that code in a checkout changes the
 * key, without a new version; a change elsewhere in meanet does not. `code` is a folder of
 * modules, or the roots of the package (the default), read as `keyRoot` says.
 */
export function toolKey(entries: readonly string[], code: CodeRoots | string = CODE_ROOTS): string {
  const root = typeof code === "string" ? code : keyRoot(entries, code);
  const modules = [...modulesOf(entries, root).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash("sha256").update(JSON.stringify({ version: VERSION, modules })).digest("hex");
}
