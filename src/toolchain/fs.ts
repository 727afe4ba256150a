import { readFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative } from "node:path";
import type { FileSystem } from "../ir/index.js";
import { PACKAGE_ROOT } from "./package.js";

export const STD_DIR = join(PACKAGE_ROOT, "dsl", "std");

/** Spec files on disk; `import "std/x"` reads the standard library shipped in dsl/std. */
export const nodeFs: FileSystem = {
  read(path) {
    try {
      return readFileSync(path, "utf8");
    } catch {
      return undefined;
    }
  },
  resolve(from, spec) {
    const file = spec.endsWith(".meanet") ? spec : `${spec}.meanet`;
    if (file.startsWith("std/")) return displayPath(join(STD_DIR, file.slice(4)));
    return displayPath(isAbsolute(file) ? file : join(dirname(from), file));
  },
};

/** Paths as users see them: relative to the working directory when inside it. */
export function displayPath(p: string): string {
  const rel = relative(process.cwd(), p);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : p;
}
