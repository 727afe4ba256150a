import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

/** Paths ARCHITECTURE.md names in backticks (files and folders of the repository). */
function namedPaths(): string[] {
  const text = readFileSync("ARCHITECTURE.md", "utf8");
  const paths = [...text.matchAll(/`((?:src|dsl|test|bench|examples)\/[^`\s<>*]+)`/g)].map((m) => m[1]!);
  return [...new Set(paths)];
}

describe("ARCHITECTURE.md", () => {
  it("names files and folders that exist", () => {
    const paths = namedPaths();
    expect(paths.length).toBeGreaterThan(40);
    expect(paths.filter((p) => !existsSync(p))).toEqual([]);
  });

  it("lists every layer under src/ in its layer table", () => {
    const text = readFileSync("ARCHITECTURE.md", "utf8");
    const layers = text.slice(text.indexOf("## Layers"), text.indexOf("## Files on disk"));
    const named = [...layers.matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1]);
    const layering = readFileSync("test/layering.test.ts", "utf8");
    const table = layering.slice(layering.indexOf("const ALLOWED"), layering.indexOf("};", layering.indexOf("const ALLOWED")));
    const ruled = [...table.matchAll(/^ {2}(\w+): \[/gm)].map((m) => m[1]);
    expect(named.sort()).toEqual(ruled.sort());
  });
});
