/**
 * Golden tests for diagnostics. Each `test/golden/NNN-name.meanet` is a small broken spec: a typo or
 * mistake a user could make. Its leading comment lines say what the compiler must report:
 *
 *   # expect: MN3001 9:7          one line per diagnostic, as `code line:column` (1-based); a warning
 *                                 adds ` warning` after the position. The list must equal the compiler's
 *                                 diagnostics exactly (duplicates count), so a changed code or position fails.
 *   # known-bug: what is wrong    the compiler does not yet do what the `# expect:` lines and the baseline
 *                                 say (see "Known bugs" below).
 *
 * Next to each spec, `NNN-name.expected.txt` holds the diagnostics as `renderDiagnostics` prints them,
 * with file names relative to the repository root; run vitest from the repository root (as `npm test`
 * does), since the spec is compiled under its process.cwd()-relative path.
 *
 * Regenerating baselines after an intended change of wording:
 *
 *   UPDATE_GOLDEN=1 npx vitest run test/golden.test.ts
 *
 * writes the baselines instead of comparing them, then review the diff with `git diff test/golden`.
 * The `# expect:` lines are never rewritten: they are the contract, edited by hand.
 *
 * Known bugs. A case marked `# known-bug:` states the correct behaviour in its `# expect:` lines and in
 * its `.expected.txt` (written by hand); the exact check runs as `it.fails`, so the suite stays green
 * while the bug exists and turns red once it is fixed. Its `NNN-name.current.txt` snapshots what the
 * compiler prints today, so the case still catches unrelated regressions. Once the bug is fixed: delete
 * the `# known-bug:` lines and the `.current.txt` file. UPDATE_GOLDEN writes `.current.txt` for these
 * cases and never overwrites their hand-written `.expected.txt`.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { location, renderDiagnostics, Source, type Diagnostic } from "../src/diagnostics/index.js";
import { compileSource } from "../src/ir/index.js";
import { nodeFs } from "../src/toolchain/fs.js";

const GOLDEN_DIR = fileURLToPath(new URL("./golden/", import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === "1";

interface GoldenCase {
  name: string;
  /** Path as compiled and printed: relative to the working directory. */
  path: string;
  text: string;
  expected: string[];
  knownBugs: string[];
}

const EXPECT_LINE = /^# expect: (MN\d{4}) (\d+):(\d+)(?: (warning|info))?\s*$/;

function readCase(file: string): GoldenCase {
  const abs = join(GOLDEN_DIR, file);
  const text = readFileSync(abs, "utf8");
  const expected: string[] = [];
  const knownBugs: string[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("#")) break;
    if (line.startsWith("# expect")) {
      const m = EXPECT_LINE.exec(line);
      if (!m) throw new Error(`${file}: malformed header line \`${line}\`; write \`# expect: MN3001 9:7\``);
      expected.push(key(m[1]!, Number(m[2]), Number(m[3]), m[4] ?? "error"));
    } else if (line.startsWith("# known-bug:")) {
      knownBugs.push(line.slice("# known-bug:".length).trim());
    }
  }
  return { name: file.replace(/\.meanet$/, ""), path: relative(process.cwd(), abs), text, expected: expected.sort(), knownBugs };
}

function key(code: string, line: number, column: number, severity: string): string {
  return `${code} ${line}:${column}${severity === "error" ? "" : ` ${severity}`}`;
}

function keysOf(diagnostics: Diagnostic[]): string[] {
  return diagnostics
    .map((d) => {
      const { line, column } = location(d.span);
      return key(d.code, line, column, d.severity);
    })
    .sort();
}

function compile(c: GoldenCase): { keys: string[]; rendered: string } {
  const { diagnostics } = compileSource(new Source(c.path, c.text), nodeFs);
  return { keys: keysOf(diagnostics), rendered: renderDiagnostics(diagnostics) + "\n" };
}

function baseline(c: GoldenCase, kind: "expected" | "current"): string {
  return join(GOLDEN_DIR, `${c.name}.${kind}.txt`);
}

function readBaseline(path: string): string {
  if (!existsSync(path)) throw new Error(`missing baseline ${relative(process.cwd(), path)}; run with UPDATE_GOLDEN=1 to write it`);
  return readFileSync(path, "utf8");
}

const files = readdirSync(GOLDEN_DIR)
  .filter((f) => f.endsWith(".meanet"))
  .sort();
const cases = files.map(readCase);

describe("golden diagnostics", () => {
  it("has cases, each with at least one `# expect:` line", () => {
    expect(cases.length).toBeGreaterThanOrEqual(36);
    for (const c of cases) expect(c.expected, `${c.name} has no \`# expect:\` header`).not.toHaveLength(0);
    // A known-bug case's `it.fails` would pass vacuously without its hand-written baseline.
    for (const c of cases.filter((x) => x.knownBugs.length)) expect(existsSync(baseline(c, "expected")), `${c.name}.expected.txt is missing`).toBe(true);
  });

  it("has no baseline without a spec, and no `.current.txt` without a `# known-bug:` line", () => {
    const names = new Map(cases.map((c) => [c.name, c]));
    for (const f of readdirSync(GOLDEN_DIR).filter((x) => x.endsWith(".txt"))) {
      const m = /^(.*)\.(expected|current)\.txt$/.exec(f);
      expect(m, `unexpected file test/golden/${f}`).not.toBeNull();
      const c = names.get(m![1]!);
      expect(c, `test/golden/${f} has no spec`).toBeDefined();
      if (m![2] === "current") expect(c!.knownBugs, `test/golden/${f} is stale: its spec has no \`# known-bug:\` line`).not.toHaveLength(0);
    }
  });

  for (const c of cases) {
    if (c.knownBugs.length === 0) {
      it(c.name, () => {
        const { keys, rendered } = compile(c);
        if (UPDATE) writeFileSync(baseline(c, "expected"), rendered);
        expect(keys, "codes and positions differ from the `# expect:` header").toEqual(c.expected);
        expect(rendered).toBe(readBaseline(baseline(c, "expected")));
      });
      continue;
    }
    // Known bug: the correct behaviour is not there yet. This fails today and passes once the bug is fixed.
    it.fails(`${c.name} (known bug: ${c.knownBugs.join("; ")})`, () => {
      const { keys, rendered } = compile(c);
      expect(keys).toEqual(c.expected);
      expect(rendered).toBe(readBaseline(baseline(c, "expected")));
    });
    it(`${c.name} still prints its known-bug snapshot`, () => {
      const { rendered } = compile(c);
      if (UPDATE) writeFileSync(baseline(c, "current"), rendered);
      expect(rendered, "the output changed: if the bug is fixed, remove the `# known-bug:` lines and the .current.txt file").toBe(readBaseline(baseline(c, "current")));
    });
  }
});
