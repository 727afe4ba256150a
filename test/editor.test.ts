/**
 * The editor grammar in dsl/editor: it knows the language's keywords and layers, and the documents
 * that tell how to install it name it with the scope and file type it declares.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { describe, expect, it } from "vitest";
import { opNames } from "../src/ir/ops/index.js";

const GRAMMAR = "dsl/editor/meanet.tmLanguage.json";

interface Rule {
  match?: string;
  name?: string;
  patterns?: Rule[];
}
const grammar = JSON.parse(readFileSync(GRAMMAR, "utf8")) as { scopeName: string; fileTypes: string[]; repository: Record<string, Rule> };

function matches(rule: Rule, text: string): boolean {
  if (rule.match !== undefined && new RegExp(rule.match).exec(text)?.[0] === text.trim().replace(/\($/, "")) return true;
  return (rule.patterns ?? []).some((p) => matches(p, text));
}

describe("the editor grammar", () => {
  it("highlights every keyword of the lexer and every layer", () => {
    const keywords = [...readFileSync("src/parser/tokens.ts", "utf8").matchAll(/keyword\("(\w+)"\)/g)].map((m) => m[1]!);
    expect(keywords.length).toBeGreaterThan(20);
    for (const word of keywords) expect(matches(grammar.repository.keyword!, `${word} `) || matches(grammar.repository.constant!, `${word} `), word).toBe(true);
    const layers = grammar.repository.call!.patterns!.find((p) => p.name === "support.function.layer.meanet")!;
    for (const op of opNames()) expect(matches(layers, `${op}(`), op).toBe(true);
  });

  it("is documented in the README and in dsl/reference.md, with a VS Code manifest that fits it", () => {
    expect(readFileSync("README.md", "utf8")).toContain(`](${GRAMMAR})`);
    const reference = readFileSync("dsl/reference.md", "utf8");
    expect(reference).toContain("](editor/meanet.tmLanguage.json)");
    const section = reference.slice(reference.indexOf("### Editor support"));
    const manifest = JSON.parse(/```json\n([\s\S]*?)```/.exec(section)![1]!) as {
      contributes: { languages: { id: string; extensions: string[] }[]; grammars: { language: string; scopeName: string; path: string }[] };
    };
    const [language] = manifest.contributes.languages;
    const [contributed] = manifest.contributes.grammars;
    expect(contributed!.scopeName).toBe(grammar.scopeName);
    expect(basename(contributed!.path)).toBe(basename(GRAMMAR));
    expect(contributed!.language).toBe(language!.id);
    expect(language!.extensions).toEqual(grammar.fileTypes.map((t) => `.${t}`));
    expect(section).toContain(`scope name \`${grammar.scopeName}\``);
  });
});
