import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

/** Functions stay small enough to read at once: a longer one is split at the seams a reader would name. */
const LIMIT = 80;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

/** Every function, method, arrow function and constructor of a file with its length in lines. */
function functionLengths(file: string, text: string): { where: string; lines: number }[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: { where: string; lines: number }[] = [];
  const visit = (n: ts.Node): void => {
    if ((ts.isFunctionLike(n) && "body" in n && n.body) || ts.isClassStaticBlockDeclaration(n)) {
      const start = sf.getLineAndCharacterOfPosition(n.getStart()).line;
      const end = sf.getLineAndCharacterOfPosition(n.getEnd()).line;
      const name = (n as { name?: ts.Node }).name?.getText() ?? (ts.isVariableDeclaration(n.parent) ? n.parent.name.getText() : "a function");
      out.push({ where: `${file}:${start + 1} ${name}`, lines: end - start + 1 });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

describe("function length", () => {
  it("the measure counts a function's lines, nested ones apart", () => {
    const body = Array.from({ length: 90 }, (_, i) => `  const v${i} = ${i};`).join("\n");
    const found = functionLengths("probe.ts", `export function long() {\n${body}\n  const inner = () => 1;\n}\n`);
    expect(found.map((f) => [f.where, f.lines])).toEqual([
      ["probe.ts:1 long", 93],
      ["probe.ts:92 inner", 1],
    ]);
  });

  it(`no function in src/ is longer than ${LIMIT} lines`, () => {
    const long = files("src").flatMap((f) => functionLengths(f, readFileSync(f, "utf8")).filter((x) => x.lines > LIMIT));
    expect(long.map((x) => `${x.where}: ${x.lines} lines`)).toEqual([]);
  });
});
